"""Canonical forms of the places a profile names: bucket URLs, registry addresses, mail addresses, links, clone URLs.

Two spellings of one place must compare equal, or a mock run could write to production (profile._refuse_shared_targets).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from releng.errors import ReleaseError, UsageError
from releng.names import InvalidValue, check_argument, is_repository_path
from releng.objectstore.local import root_of

LOOPBACK = "loopback"  # the one name for every spelling of this machine (localhost, 127.0.0.0/8, ::1, 0.0.0.0)
# A registry address without a port may be served on either (krel speaks http to loopback, https elsewhere).
_IMPLICIT_PORTS = frozenset({80, 443})


@dataclass(frozen=True)
class Place:
    """A write target in canonical form: the tree, bucket or registry host it is on, and the path below that."""

    kind: str  # "file", "gs" or "registry"
    host: str  # "" for file://, the bucket for gs://, the canonical host for a registry
    path: tuple[str, ...]
    ports: frozenset[int] = frozenset()  # registry ports it may be reached on

    def overlaps(self, other: Place) -> bool:
        """Same place, or one lies inside the other."""
        if (self.kind, self.host) != (other.kind, other.host):
            return False
        if (self.ports or other.ports) and not self.ports & other.ports:
            return False
        shorter = min(len(self.path), len(other.path))
        return self.path[:shorter] == other.path[:shorter]

    def below(self, other: Place) -> bool:
        """Strictly inside `other`: same host and port, `other`'s path plus at least one segment."""
        return self.overlaps(other) and len(self.path) > len(other.path)

    def __str__(self) -> str:
        path = "/".join(self.path)
        if self.kind == "file":
            return f"/{path}"
        if self.kind == "gs":
            return f"gs://{self.host}/{path}".rstrip("/")
        ports = "|".join(str(p) for p in sorted(self.ports))
        return f"{self.host}:{ports}/{path}".rstrip("/")


def redact(text: str) -> str:
    """text with everything before its last '@' hidden (`user:pw@host/x` -> `***@host/x`), the scheme kept."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    else:
        scheme += sep
    return f"{scheme}***@{rest.rsplit('@', 1)[1]}" if "@" in rest else text


def _refuse_credentials(text: str, what: str) -> None:
    if "@" in text:
        shown = redact(text)
        raise InvalidValue(f"{shown!r}: {what} must not carry credentials or '@' (they come from the environment)")


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [ in the host
        raise InvalidValue(f"{redact(url)!r} is not a URL: {exc}") from exc


# ---- buckets ----------------------------------------------------------------------------------------------------

# Google Cloud Storage bucket names: lower-case letters, digits, '-', '_' and '.', 3 to 222 long.
_GCS_BUCKET = re.compile(r"[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9]")


def bucket_place(url: str) -> Place:
    """Canonical form of a bucket URL: file:// as its real path (symlinks resolved), gs:// as bucket and prefix."""
    _refuse_credentials(url, "a bucket URL")
    parts = _split(url)
    if "?" in url or "#" in url:
        raise InvalidValue(f"{url!r}: a bucket URL takes no ?query or #fragment")
    if parts.scheme == "file":
        return _file_place(url)
    if parts.scheme == "gs":
        return _gs_place(url, parts.netloc, parts.path)
    raise InvalidValue(f"{url!r}: expected file:///absolute/path or gs://bucket[/prefix]")


def _file_place(url: str) -> Place:
    try:
        root = str(root_of(url))  # the directory LocalStore will write to, percent-decoded
    except UsageError as exc:
        raise InvalidValue(str(exc)) from exc
    if "\0" in root:
        raise InvalidValue(f"{url!r}: the path contains NUL")
    # realpath follows the symlinks of the part that exists and folds //, . and .. the way the kernel will.
    return Place("file", "", Path(os.path.realpath(root)).parts[1:])


def _gs_place(url: str, bucket: str, path: str) -> Place:
    if not _GCS_BUCKET.fullmatch(bucket):
        raise InvalidValue(f"{url!r}: {bucket!r} is not a bucket name (lower-case letters, digits, '-', '_', '.')")
    prefix = path.strip("/")  # GCSStore strips these too, so gs://b/dl/ and gs://b//dl are gs://b/dl
    segments = tuple(prefix.split("/")) if prefix else ()
    # GCS keeps '.', '..' and empty segments literally; refusing them keeps one spelling per prefix.
    if any(s in ("", ".", "..") or "\\" in s for s in segments):
        raise InvalidValue(f"{url!r}: the prefix must be '/'-separated names without empty, '.' or '..' parts")
    return Place("gs", bucket, segments)


def check_bucket(url: str) -> None:
    """A bucket URL a job may write to or read from."""
    bucket_place(url)


# ---- registries -------------------------------------------------------------------------------------------------

_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


def registry_place(address: str) -> Place:
    """Canonical form of `host[:port][/path]`: host lower-cased, every loopback spelling one host, path checked."""
    _refuse_credentials(address, "a registry address")
    if "://" in address:
        raise InvalidValue(f"{address!r}: expected HOST[:PORT][/PATH] without a scheme")
    if not address.isascii() or any(char.isspace() for char in address):
        raise InvalidValue(f"{address!r}: a registry address is ASCII without spaces")
    hostport, _, path = address.partition("/")
    host, ports = _host_and_ports(hostport, address)
    path = path.removesuffix("/")
    segments = tuple(path.split("/")) if path else ()
    if any(s in ("", ".", "..") for s in segments):
        raise InvalidValue(f"{address!r}: a registry path has no empty, '.' or '..' segments")
    if path and not is_repository_path(path):
        raise InvalidValue(f"{address!r}: the path must be lower-case names ([a-z0-9] joined by '.', '_' or '-')")
    return Place("registry", host, segments, ports)


@dataclass(frozen=True)
class RegistryAddress:
    """`host[:port][/prefix]` split once: the host a client talks to and the repository prefix below it.

    Only splits (the profile, manifests and flags check the form where the value enters, with registry_place or
    reference.REGISTRY_PATH); one trailing '/' is dropped, as registry_place drops it, so `host/p/` is `host/p`.
    """

    host: str
    prefix: str = ""

    @staticmethod
    def host_of(text: str) -> str:
        """The `host[:port]` of `host[:port][/path]` ('' when text starts with '/'), for a value not yet checked."""
        return text.partition("/")[0]

    @classmethod
    def parse(cls, text: str) -> RegistryAddress:
        """Split `host[:port][/prefix]`; InvalidValue when there is no host."""
        host, _, prefix = text.partition("/")
        if not host:
            raise InvalidValue(f"{text!r} is not a registry address like HOST[:PORT][/PATH]: the host is empty")
        return cls(host, prefix.removesuffix("/"))

    @classmethod
    def repository(cls, text: str) -> RegistryAddress:
        """A registry path naming a repository, `host[:port]/repo/path`: the prefix must not be empty."""
        host, _, prefix = text.partition("/")
        if not host or not prefix.removesuffix("/"):
            raise ReleaseError(f"{text!r} is not a registry path like HOST/REPO (e.g. gcr.io/k8s-staging-foo)")
        return cls(host, prefix.removesuffix("/"))

    def repo(self, name: str) -> str:
        """The repository path of image `name` below this address (`prefix/name`, or `name` at the root)."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def __str__(self) -> str:
        return f"{self.host}/{self.prefix}" if self.prefix else self.host


def check_registry(address: str) -> None:
    """A registry address like `127.0.0.1:5000/staging` or `gcr.io/project`."""
    registry_place(address)


def _host_and_ports(hostport: str, address: str) -> tuple[str, frozenset[int]]:
    if hostport.startswith("["):
        inner, close, rest = hostport[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise InvalidValue(f"{address!r}: expected [IPv6]:PORT")
        host_text, port_text = inner, rest[1:]
        if rest and not port_text:
            raise InvalidValue(f"{address!r}: empty port")
    else:
        host_text, sep, port_text = hostport.partition(":")
        if sep and not port_text:
            raise InvalidValue(f"{address!r}: empty port")
    if port_text and (not _PORT.fullmatch(port_text) or not 0 < int(port_text) < 65536):
        raise InvalidValue(f"{address!r}: the port must be a number from 1 to 65535")
    ports = frozenset({int(port_text)}) if port_text else _IMPLICIT_PORTS
    return _canonical_host(host_text, address), ports


def _canonical_host(text: str, address: str) -> str:
    name = text.lower().removesuffix(".")
    ip = _as_ip(name)
    if ip is not None:
        return LOOPBACK if ip.is_loopback or ip.is_unspecified else str(ip)
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: *.localhost is this machine
        return LOOPBACK
    if not name or not all(_HOST_LABEL.fullmatch(label) for label in name.split(".")):
        raise InvalidValue(f"{address!r}: {text!r} is not a host name")
    return name


def _as_ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        # inet_aton's forms (127.1, 0x7f000001, 2130706433) reach the same address through the resolver.
        if not _LEGACY_IPV4.fullmatch(name):
            return None
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


# ---- mail -------------------------------------------------------------------------------------------------------

_LOCAL_PART = r"[A-Za-z0-9_%+](?:[A-Za-z0-9_%+.-]*[A-Za-z0-9_%+-])?"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
_MAIL = re.compile(rf"{_LOCAL_PART}@{_DOMAIN}")


def mail_key(address: str) -> str:
    """Check one bare address `name@domain` and return the form to compare it by (case does not make a new list)."""
    if len(address) > 254 or ".." in address or not _MAIL.fullmatch(address):
        raise InvalidValue(
            f"{address!r} is not one bare mail address like name@example.org (no display name, quotes, lists)")
    return address.casefold()


def check_mail(address: str) -> None:
    """One bare mail address."""
    mail_key(address)


# ---- links and clone URLs ---------------------------------------------------------------------------------------

_LINK_SCHEMES = ("https", "http", "mailto", "file")
_LINK_BAD = re.compile(r"[\"'<>`\\\s]")


def check_link(url: str) -> None:
    """A link printed in pages and mail: https:, http:, mailto: or file:, with no quotes, brackets or spaces."""
    if not url:
        return
    parts = _split(url)
    if parts.scheme not in _LINK_SCHEMES:
        raise InvalidValue(f"{redact(url)!r}: a link must start with https:, http:, mailto: or file:")
    bad = set(_LINK_BAD.findall(url))
    if parts.scheme == "file":
        bad.discard(" ")  # a KREL_HOME may have spaces; pages escape links when they print them
    if bad:
        raise InvalidValue(f"{redact(url)!r}: a link must not contain quotes, brackets, backslashes or spaces")
    if parts.scheme in ("https", "http"):
        if not parts.netloc:
            raise InvalidValue(f"{url!r}: expected {parts.scheme}://host/...")
        _refuse_credentials(parts.netloc, "a link")


def check_required_link(url: str) -> None:
    """A link that must be set."""
    if not url:
        raise InvalidValue("must not be empty")
    check_link(url)


_CLONE_SCHEMES = ("https", "http", "ssh", "git", "file")
_GIT_TRANSPORT = re.compile(r"[A-Za-z0-9+.-]+::")  # git's <transport>::<address> runs a remote helper
_SCP_LIKE = re.compile(r"(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.-]*:(?!-)[^:]+")  # [user@]host:path


def check_clone_url(url: str) -> None:
    """An upstream URL git may clone and push: a plain transport, an scp-like address or an absolute path."""
    if url.startswith("-"):
        raise InvalidValue(f"{redact(url)!r} must not start with '-' (git would read it as an option)")
    if _GIT_TRANSPORT.match(url):
        raise InvalidValue(f"{redact(url)!r}: git remote-helper addresses (<transport>::...) are not allowed")
    if url.startswith("/"):
        return  # a local path; it may contain spaces like any KREL_HOME
    if "://" in url:
        _check_clone_scheme_url(url)
        return
    check_argument(url)
    if not _SCP_LIKE.fullmatch(url):
        expected = "a URL (https://, ssh://, git://, file://), user@host:path or /absolute/path"
        raise InvalidValue(f"{url!r}: expected {expected}")


def _check_clone_scheme_url(url: str) -> None:
    parts = _split(url)
    if parts.scheme not in _CLONE_SCHEMES:
        raise InvalidValue(f"{redact(url)!r}: the scheme must be one of {', '.join(_CLONE_SCHEMES)}")
    if parts.password is not None:
        raise InvalidValue(f"{redact(url)!r}: a clone URL must not carry a password (tokens come from GITHUB_TOKEN)")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidValue(f"{url!r}: expected file:///absolute/path")
        return
    check_argument(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    if not parts.hostname or host.startswith("-") or parts.netloc.startswith("-"):
        raise InvalidValue(f"{redact(url)!r}: expected {parts.scheme}://host/path with a host name")
