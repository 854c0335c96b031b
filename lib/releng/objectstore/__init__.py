"""Object stores addressed by URL: file:// (a local directory) and gs:// (Google Cloud Storage)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from releng.errors import UsageError
from releng.objectstore.base import (
    ObjectExistsError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectStore,
    PreconditionFailedError,
    Progress,
)


def _open_file(url: str, gcs_client: object | None) -> ObjectStore:
    from releng.objectstore.local import LocalStore

    return LocalStore(url)


def _open_gs(url: str, gcs_client: object | None) -> ObjectStore:
    # Imported lazily: google-cloud-storage is slow to import and file:// users never need it.
    from releng.objectstore.gcs import GCSStore

    return GCSStore.from_url(url, client=gcs_client)


OPENERS: dict[str, Callable[[str, object | None], ObjectStore]] = {"file": _open_file, "gs": _open_gs}


def open_store(url: str, *, gcs_client: object | None = None) -> ObjectStore:
    """The store behind a URL (file:///dir or gs://bucket/prefix); gcs_client overrides the default GCS client."""
    scheme = urlsplit(url).scheme
    opener = OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in OPENERS)
        raise UsageError(f"object store URL {url!r} has an unsupported scheme: expected one of {known}")
    return opener(url, gcs_client)


__all__ = [
    "OPENERS",
    "ObjectExistsError",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectStore",
    "PreconditionFailedError",
    "Progress",
    "open_store",
]
