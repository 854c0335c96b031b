"""gs:// buckets through google-cloud-storage; every vendor exception becomes a one-line releng error here."""

from __future__ import annotations

import base64
import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.cloud import storage
from google.cloud.storage import exceptions as gcs_exc
from google.cloud.storage.retry import DEFAULT_RETRY

from releng.digests import hash_stream
from releng.errors import ReleaseError, UsageError
from releng.objectstore.base import (
    ObjectExistsError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectStore,
    PreconditionFailedError,
    check_key,
    copy_streamed,
    put_new_checked,
)

# Resumable uploads send this much per request; a multiple of 256 KiB as the API requires.
UPLOAD_CHUNK = 16 * 1024 * 1024
# krel PublishVersion's header for version markers; public objects are otherwise cached for an hour.
MUTABLE_CACHE_CONTROL = "private, max-age=0, no-transform"
# Below this a write is one multipart request (markers, notes, sums files).
SMALL_OBJECT = 8 * 1024 * 1024


def default_client() -> Any:
    """A storage client from the environment: the emulator (anonymous) if STORAGE_EMULATOR_HOST is set, else ADC.

    This is the backend's edge: google-cloud-storage itself reads STORAGE_EMULATOR_HOST and the ADC variables.
    """
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project="krel-emulator", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    try:
        return storage.Client()
    except auth_exc.DefaultCredentialsError as e:
        raise ReleaseError(
            "gs://: no Google credentials found; set GOOGLE_APPLICATION_CREDENTIALS, run "
            "`gcloud auth application-default login`, or set STORAGE_EMULATOR_HOST for a local emulator"
        ) from e
    except OSError as e:
        raise ReleaseError(f"gs://: cannot build a storage client: {e}") from e


def _hex(b64: str | None) -> str | None:
    return base64.b64decode(b64).hex() if b64 else None


class GCSStore:
    """A bucket, or a prefix inside one, on Google Cloud Storage (or the emulator)."""

    def __init__(self, bucket: str, prefix: str, client: Any, retry_timeout: float | None = None) -> None:
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.url = f"gs://{bucket}/{self.prefix}" if self.prefix else f"gs://{bucket}"
        self._client = client
        self._bucket = client.bucket(bucket)
        endpoint = str(getattr(client, "api_endpoint", "") or "")
        self.endpoint = endpoint
        if retry_timeout is None:
            # A refused connection to a loopback emulator will not heal; the real service gets the usual patience.
            local = urlsplit(endpoint).hostname in ("127.0.0.1", "localhost", "::1")
            retry_timeout = 3.0 if local else 60.0
        self._retry = DEFAULT_RETRY.with_timeout(retry_timeout)

    @classmethod
    def from_url(cls, url: str, client: Any | None = None, retry_timeout: float | None = None) -> GCSStore:
        """gs://bucket[/prefix] -> store; the default client comes from the environment."""
        parts = urlsplit(url)
        if parts.scheme != "gs" or not parts.netloc or parts.query or parts.fragment:
            raise UsageError(f"object store URL {url!r} is invalid: expected gs://bucket[/prefix]")
        return cls(parts.netloc, parts.path, client if client is not None else default_client(), retry_timeout)

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _bucket_missing(self) -> bool:
        # Only words an error that is already on its way up; if this probe fails too, the original error stands.
        try:
            return not bool(self._bucket.exists(retry=self._retry))
        except Exception:
            return False

    @contextmanager
    def _errors(self, key: str, action: str) -> Iterator[None]:
        where = f"{self.url}/{key}" if key else self.url
        try:
            yield
        except gexc.PreconditionFailed as e:
            raise PreconditionFailedError(f"{where}: {action} refused by a generation precondition (412)") from e
        except gexc.NotFound as e:
            if self._bucket_missing():
                raise ReleaseError(f"gs://{self.bucket_name}: bucket does not exist (needed for {where})") from e
            if action in ("read", "copy"):
                raise ObjectNotFoundError.for_key(self.url, key) from e
            raise ReleaseError(f"{where}: cannot {action}: not found (404)") from e
        except (gexc.Forbidden, gexc.Unauthorized) as e:
            raise ReleaseError(f"{where}: cannot {action}: permission denied ({e.code}); check the account's "
                               f"access to gs://{self.bucket_name}") from e
        except gexc.GoogleAPICallError as e:
            raise ReleaseError(f"{where}: cannot {action}: {e.code} {e.message}") from e
        except (requests.exceptions.RequestException, gexc.RetryError) as e:
            raise ReleaseError(f"{where}: cannot {action}: storage endpoint {self.endpoint or 'googleapis'} "
                               f"is unreachable ({type(e).__name__})") from e
        except gcs_exc.DataCorruption as e:
            raise ReleaseError(f"{where}: cannot {action}: the transfer was corrupted (checksum mismatch)") from e
        except gcs_exc.InvalidResponse as e:
            raise ReleaseError(f"{where}: cannot {action}: unexpected response from the storage endpoint "
                               f"({type(e).__name__})") from e
        except OSError as e:
            # After requests' own errors (they are OSErrors too): reading the local source or target failed.
            raise ReleaseError(f"{where}: cannot {action}: {e.strerror or e}") from e
        except auth_exc.GoogleAuthError as e:
            raise ReleaseError(f"{where}: cannot {action}: Google credentials were rejected ({type(e).__name__}); "
                               "refresh them with `gcloud auth application-default login`") from e

    def _blob_or_none(self, key: str) -> Any:
        with self._errors(key, "read"):
            return self._bucket.get_blob(self._name(key), retry=self._retry)

    def exists(self, key: str) -> bool:
        with self._errors(key, "read"):
            return bool(self._bucket.blob(self._name(key)).exists(retry=self._retry))

    def get(self, key: str) -> bytes:
        with self._errors(key, "read"):
            return bytes(self._bucket.blob(self._name(key)).download_as_bytes(retry=self._retry))

    def download(self, key: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}")
        try:
            with self._errors(key, "read"):
                self._bucket.blob(self._name(key)).download_to_filename(str(tmp), retry=self._retry)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        # The reader fetches lazily, so vendor errors surface inside the caller's block; translate them there too.
        with self._errors(key, "read"):
            blob = self._bucket.get_blob(self._name(key), retry=self._retry)
            if blob is None:
                raise ObjectNotFoundError.for_key(self.url, key)
            with blob.open("rb", chunk_size=UPLOAD_CHUNK, retry=self._retry) as stream:
                yield stream

    def md5(self, key: str) -> str:
        blob = self._blob_or_none(key)
        if blob is None:
            raise ObjectNotFoundError.for_key(self.url, key)
        md5 = _hex(blob.md5_hash)
        if md5 is not None:
            return md5
        # Composite objects carry no md5: hash the content.
        with self.reader(key) as stream:
            return hash_stream(stream, ("md5",))["md5"]

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        cut = len(self.prefix) + 1 if self.prefix else 0
        with self._errors(prefix, "list"):
            blobs = list(self._client.list_blobs(self._bucket, prefix=full or None, retry=self._retry))
        if not blobs and self._bucket_missing():
            raise ReleaseError(f"gs://{self.bucket_name}: bucket does not exist (listing {self.url}/{prefix})")
        for blob in blobs:
            if blob.name.endswith("/"):
                continue  # console "folder" placeholders are not objects
            yield ObjectInfo(key=blob.name[cut:], size=int(blob.size or 0), generation=blob.generation,
                             md5=_hex(blob.md5_hash))

    def put_new_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> None:
        name = self._name(key)
        with self._errors(key, "write"):
            if isinstance(stream, io.BytesIO) and len(stream.getbuffer()) <= SMALL_OBJECT:
                blob = self._bucket.blob(name)
                blob.upload_from_string(stream.getvalue(), content_type=content_type or "application/octet-stream",
                                        if_generation_match=0, retry=self._retry)
            else:
                blob = self._bucket.blob(name, chunk_size=UPLOAD_CHUNK)
                # if_generation_match=0: never overwrite on the real service (the emulator ignores it; the
                # callers check existence first).
                blob.upload_from_file(stream, content_type=content_type or "application/octet-stream",
                                      if_generation_match=0, retry=self._retry)

    def put_new(self, key: str, data: bytes | Path, content_type: str | None = None) -> bool:
        return put_new_checked(self, key, data, content_type)

    def read_generation(self, key: str) -> tuple[bytes, int] | None:
        for _ in range(5):
            blob = self._blob_or_none(key)
            if blob is None:
                return None
            # Taken before the download: the download refreshes blob properties from response headers, which the
            # emulator does not all send.
            generation = int(blob.generation)
            try:
                with self._errors(key, "read"):
                    data = blob.download_as_bytes(if_generation_match=generation, retry=self._retry)
                return bytes(data), generation
            except (PreconditionFailedError, ObjectNotFoundError):
                continue  # replaced between metadata and content; read again
        raise ReleaseError(f"{self.url}/{key}: changes too fast to read a consistent generation")

    def put_if_generation(self, key: str, data: bytes, generation: int | None, content_type: str | None = None) -> int:
        name = self._name(key)
        current = self._blob_or_none(key)
        found = None if current is None else int(current.generation)
        # Checked here as well because the emulator does not enforce if_generation_match.
        if found != generation:
            raise PreconditionFailedError.for_key(self.url, key, generation, found)
        blob = self._bucket.blob(name)
        # Generation-guarded objects are the mutable ones (markers, indexes): krel serves markers uncached.
        blob.cache_control = MUTABLE_CACHE_CONTROL
        try:
            with self._errors(key, "write"):
                blob.upload_from_string(data, content_type=content_type or "text/plain",
                                        if_generation_match=generation or 0, retry=self._retry)
        except PreconditionFailedError as e:
            raise PreconditionFailedError.for_key(self.url, key, generation) from e
        if blob.generation is None:
            written = self._blob_or_none(key)
            return int(written.generation)
        return int(blob.generation)

    def copy_to(self, key: str, dest: ObjectStore, dest_key: str) -> bool:
        if not isinstance(dest, GCSStore):
            return copy_streamed(self, key, dest, dest_key)
        src = self._blob_or_none(key)
        if src is None:
            raise ObjectNotFoundError.for_key(self.url, key)
        if dest.exists(dest_key):
            return dest._same_or_raise(dest_key, src)
        target = dest._bucket.blob(dest._name(dest_key))
        try:
            with dest._errors(dest_key, "copy"):
                # rewrite, not copy_blob: it also works for large objects and across locations, in token rounds.
                token, _, _ = target.rewrite(src, if_generation_match=0, retry=self._retry)
                while token is not None:
                    token, _, _ = target.rewrite(src, token=token, if_generation_match=0, retry=self._retry)
        except PreconditionFailedError:
            return dest._same_or_raise(dest_key, src)
        return True

    def _same_or_raise(self, key: str, src_blob: Any) -> bool:
        src_md5 = _hex(src_blob.md5_hash)
        if src_md5 is None:
            with src_blob.open("rb") as stream:
                src_md5 = hash_stream(stream, ("md5",))["md5"]
        if self.md5(key) != src_md5:
            raise ObjectExistsError.for_key(self.url, key)
        return False
