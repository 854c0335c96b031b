"""What the names a profile hands to git, GitHub, Cloud Build and the file system may look like.

Each check takes one string and raises InvalidValue naming the problem; the profile loader adds file and key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import PurePosixPath

from releng.errors import UsageError
from releng.github import names as github_names
from releng.registry.reference import parse_image_ref


class InvalidValue(UsageError):
    """A value of the wrong form; the message is the problem only, the caller says where the value came from."""


# Cc: C0/C1 controls (NUL, CR, LF, ESC, DEL); Cf: invisible format characters such as bidi overrides;
# Zl/Zp: Unicode line and paragraph separators. Each can forge a log line, a header or a terminal.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def check_text(text: str) -> None:
    """Refuse control characters; the message gives the code point, never the text (it may move the cursor)."""
    for position, char in enumerate(text):
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            raise InvalidValue(f"contains control character U+{ord(char):04X} at position {position}")


def check_one_line(text: str) -> None:
    """Printable text on one line (product names, people's names)."""
    if not text.isprintable():
        raise InvalidValue(f"{text!r} must be printable text on one line")


def check_person_name(text: str) -> None:
    """A name that goes into `Name <address>` (mail From, git author): no brackets or quotes to forge the address."""
    check_one_line(text)
    if re.search(r"[<>\"]", text):
        raise InvalidValue(f"{text!r} must not contain <, > or \"")


def check_argument(text: str) -> None:
    """A value passed as one command argument: never an option, never split by a shell."""
    if text.startswith("-"):
        raise InvalidValue(f"{text!r} must not start with '-' (a command would read it as an option)")
    if any(char.isspace() for char in text):
        raise InvalidValue(f"{text!r} must not contain whitespace")


_REF_BAD = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(?:/|$)")


def check_git_ref(text: str) -> None:
    """A branch or ref name by `git check-ref-format` rules, and not an option."""
    check_argument(text)
    if not text or text == "@" or text.startswith(("/", ".")) or text.endswith(("/", ".")) or _REF_BAD.search(text):
        raise InvalidValue(f"{text!r} is not a valid git ref name (see git check-ref-format)")


_REMOTE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_remote_name(text: str) -> None:
    """A git remote name like `origin`: letters, digits, '.', '_' and '-', not starting with '-' or '.'."""
    if not _REMOTE.fullmatch(text) or ".." in text or text.endswith((".", ".lock")):
        raise InvalidValue(f"{text!r} is not a valid git remote name (letters, digits, '.', '_', '-')")


def check_github_owner(text: str) -> None:
    """A GitHub user or organisation name (GitHub's rules, from releng.github.names)."""
    _github(github_names.owner, text)


def check_github_repo(text: str) -> None:
    """A GitHub repository name, and not an option."""
    check_argument(text)
    _github(github_names.repository, text)


def _github(check: Callable[[str], str], text: str) -> None:
    try:
        check(text)
    except UsageError as exc:
        raise InvalidValue(str(exc)) from exc


def check_relative_dir(text: str) -> None:
    """A directory below the work tree: relative, no '..', not the work tree itself."""
    parts = PurePosixPath(text).parts
    if not parts or text.startswith(("/", "-")) or "\\" in text or ".." in parts or parts == (".",):
        raise InvalidValue(f"{text!r} must be a relative directory inside the work tree (no '/' start, no '..')")


_ARCH = re.compile(r"[a-z0-9][a-z0-9_]*")


def check_arch(text: str) -> None:
    """A platform architecture like amd64 or ppc64le (it becomes a path segment)."""
    if not _ARCH.fullmatch(text):
        raise InvalidValue(f"{text!r} is not an architecture name like amd64 (lower-case letters, digits, '_')")


def is_repository_path(path: str) -> bool:
    """True for a registry repository path like `staging/foo`, by the distribution grammar krel's parser implements."""
    if any(char.isspace() for char in path):
        return False
    try:
        ref = parse_image_ref(f"localhost/{path}")
    except UsageError:
        return False
    return ref.repo == path and ref.tag is None and ref.digest is None


def check_image_name(text: str) -> None:
    """An image name: one repository path component (it is also a file name under release-images/<arch>/)."""
    if "/" in text or not is_repository_path(text):
        raise InvalidValue(f"{text!r} is not an image name (lower-case letters and digits joined by '.', '_' or '-')")


def check_image_ref(text: str) -> None:
    """A full image reference like gcr.io/project/image[:tag][@sha256:...], on one line, not an option."""
    check_argument(text)
    try:
        parse_image_ref(text)
    except UsageError as exc:
        raise InvalidValue(str(exc)) from exc


_SECRET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*=[A-Za-z_][A-Za-z0-9_]*")


def check_secret_mapping(text: str) -> None:
    """A Secret Manager name mapped to an environment variable: `secret-name=ENV_VAR`."""
    if not _SECRET.fullmatch(text):
        raise InvalidValue(f"{text!r} must be 'secret-name=ENV_VAR'")


# Google Cloud project IDs (optionally domain-scoped, `example.com:project`); `local` names the local runner.
_PROJECT = re.compile(r"(?:[a-z0-9][a-z0-9.-]*:)?[a-z][a-z0-9-]{0,61}[a-z0-9]")


def check_project(text: str) -> None:
    """A Cloud Build project ID."""
    if not _PROJECT.fullmatch(text):
        raise InvalidValue(f"{text!r} is not a project ID (lower-case letters, digits, '-')")


def check_profile_name(text: str) -> None:
    """A profile name: it names a directory under KREL_HOME/workspaces."""
    check_one_line(text)
    if not text or text in (".", "..") or text.startswith("-") or "/" in text or "\\" in text:
        raise InvalidValue(f"{text!r} must be a name, not a path (no '/', not '.' or '..', not starting with '-')")
