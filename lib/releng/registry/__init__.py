"""OCI distribution registry client: push, read, copy by digest, auth and rate limiting."""
