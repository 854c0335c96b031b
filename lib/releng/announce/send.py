"""`announce send`: read the published announcement, check the checksums it quotes, then mail it once."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from releng import layout
from releng.announce.compose import ANNOUNCEMENT_FILE, subject_for
from releng.announce.mail import Mailer
from releng.announce.message import Message, check_sender
from releng.errors import ReleaseError, UsageError
from releng.objectstore.base import ObjectStore
from releng.profile import Profile, Targets
from releng.version import parse_tag

# An href and a 128-hex sha512 in document order; a digest belongs to the last link before it (table rows).
_TOKENS = re.compile(
    r"""href\s*=\s*["']?(?P<href>[^"'\s>]+)|(?<![0-9a-fA-F])(?P<sha>[0-9a-fA-F]{128})(?![0-9a-fA-F])"""
)
_TAGS = re.compile(r"<[^>]+>")


class ChecksumMismatchError(ReleaseError):
    """The announcement quotes a checksum that the released .sha512 file does not have."""

    @classmethod
    def for_file(cls, name: str, quoted: str, released: str) -> ChecksumMismatchError:
        return cls(
            f"announce: checksum mismatch for {name}: the announcement quotes sha512 {quoted}, "
            f"the released {name}.sha512 has {released}; nothing was sent"
        )


@dataclass(frozen=True)
class QuotedChecksum:
    """One sha512 quoted in the announcement, the released file it names, and whether they agree."""

    name: str  # path below release/<tag>/
    quoted: str
    released: str

    @property
    def ok(self) -> bool:
        return self.quoted.lower() == self.released.lower()


@dataclass(frozen=True)
class Outgoing:
    """What `announce send` will do: the message, where it comes from, and the checksums it verified."""

    tag: str
    source: str  # URL of announcement.html
    message: Message
    checksums: tuple[QuotedChecksum, ...]


def quoted_checksums(announcement_html: str, tag: str) -> list[tuple[str, str]]:
    """(file path below release/<tag>/, sha512) for every sha512 the announcement quotes."""
    found: list[tuple[str, str]] = []
    last_href = ""
    for match in _TOKENS.finditer(announcement_html):
        if match.group("href"):
            last_href = html.unescape(match.group("href"))
            continue
        digest = match.group("sha").lower()
        name = _released_path(last_href, tag)
        if name is None:
            raise ReleaseError(
                f"announce: the announcement quotes sha512 {digest} without a download link below /{tag}/ "
                "before it; cannot tell which released file to check"
            )
        found.append((name, digest))
    return found


def _released_path(href: str, tag: str) -> str | None:
    path = unquote(urlsplit(href).path)
    marker = f"/{tag}/"
    if marker not in path:
        return None
    return path.split(marker, 1)[1].strip("/") or None


def verify_checksums(store: ObjectStore, tag: str, announcement_html: str) -> tuple[QuotedChecksum, ...]:
    """Compare every quoted sha512 with release/<tag>/<file>.sha512; the first mismatch raises."""
    results: list[QuotedChecksum] = []
    for name, quoted in quoted_checksums(announcement_html, tag):
        key = layout.release_key(tag, f"{name}.sha512")
        if not store.exists(key):
            raise ReleaseError(
                f"announce: the announcement quotes a sha512 for {name} but {store.url}/{key} does not exist; "
                "nothing was sent"
            )
        words = store.get(key).decode("utf-8", "replace").split()
        released = words[0].lower() if words else ""
        check = QuotedChecksum(name=name, quoted=quoted, released=released)
        if not check.ok:
            raise ChecksumMismatchError.for_file(name, quoted, released or "nothing")
        results.append(check)
    return tuple(results)


def prepare_send(
    profile: Profile, targets: Targets, tag: str, store: ObjectStore, sender_name: str = "", sender_email: str = ""
) -> Outgoing:
    """Observe: read release/<tag>/announcement.html from the targets' bucket and verify its checksums.

    The sender defaults to the profile's mail.from_name / mail.from_email (krel's --name / --email override it).
    """
    try:
        parse_tag(tag)
    except ReleaseError as exc:
        raise UsageError(f"announce: {exc}") from exc
    # --name/--email are checked before the bucket is read (the profile's own values were checked on load).
    check_sender(sender_name or profile.mail.from_name, sender_email or profile.mail.from_email)
    key = layout.release_key(tag, ANNOUNCEMENT_FILE)
    source = f"{store.url.rstrip('/')}/{key}"
    if not store.exists(key):
        raise ReleaseError(f"announce: no announcement for {tag}: {source} does not exist (run `krel release` first)")
    announcement = store.get(key).decode("utf-8", "replace")
    checksums = verify_checksums(store, tag, announcement)
    if not targets.mail_to:
        raise UsageError(f"announce: profile {profile.name} has no mail_to recipients for these targets")
    message = Message(
        sender_name=sender_name or profile.mail.from_name,
        sender_email=sender_email or profile.mail.from_email,
        recipients=tuple(targets.mail_to),
        subject=subject_for(profile, tag),
        html=announcement,
        text=_plain_text(announcement),
    )
    return Outgoing(tag=tag, source=source, message=message, checksums=checksums)


def deliver(outgoing: Outgoing, mailer: Mailer) -> str:
    """Apply: one send to every recipient of the mode; the mailer raises (and sends nothing) on refusal."""
    return mailer.send(outgoing.message)


@dataclass(frozen=True)
class Sent:
    """An announcement mailed: what went out and the transport's receipt."""

    outgoing: Outgoing
    receipt: str


def send_announcement(
    profile: Profile,
    targets: Targets,
    tag: str,
    store: ObjectStore,
    mailer: Mailer,
    confirm: Callable[[Outgoing], None],
    sender_name: str = "",
    sender_email: str = "",
) -> Sent:
    """`krel announce send`, and `krel release` at its end when the profile says so: read the published announcement,
    check every checksum it quotes, let `confirm` see the message (it raises to refuse), then mail it once."""
    outgoing = prepare_send(profile, targets, tag, store, sender_name=sender_name, sender_email=sender_email)
    confirm(outgoing)
    return Sent(outgoing=outgoing, receipt=deliver(outgoing, mailer))


def _plain_text(announcement_html: str) -> str:
    text = re.sub(r"(?i)<\s*(br|p|hr|tr|li|h\d)[^>]*>", "\n", announcement_html)
    text = html.unescape(_TAGS.sub("", text))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
