"""Signing in cosign's formats, offline and key-based: keys, blob signatures, image signatures in a registry.

The keyless (Sigstore: Fulcio certificates, Rekor entries) path is left for later.
"""
