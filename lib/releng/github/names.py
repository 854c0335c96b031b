"""GitHub owner and repository names, checked by GitHub's own rules before they become URLs or cache paths."""

from __future__ import annotations

import re

from releng.errors import UsageError

# GitHub: an owner is alphanumerics and single hyphens, not starting with one, at most 39 characters (a trailing
# hyphen is refused for new accounts but older ones still have it).
_OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*-?")
_OWNER_MAX = 39
# A repository is letters, digits, '.', '_' and '-', at most 100 characters; '.' and '..' are reserved.
_REPO = re.compile(r"[A-Za-z0-9._-]+")
_REPO_MAX = 100


def owner(name: str) -> str:
    """`name` when it is a valid GitHub user or organisation name, else UsageError naming it."""
    if len(name) > _OWNER_MAX or not _OWNER.fullmatch(name):
        raise UsageError(
            f"GitHub organisation {name!r} is not valid: expected letters, digits and single hyphens "
            f"(not first), at most {_OWNER_MAX} characters"
        )
    return name


def repository(name: str) -> str:
    """`name` when it is a valid GitHub repository name, else UsageError naming it."""
    if len(name) > _REPO_MAX or not _REPO.fullmatch(name) or name in (".", ".."):
        raise UsageError(
            f"GitHub repository {name!r} is not valid: expected letters, digits, '.', '_' or '-' "
            f"(not '.' or '..'), at most {_REPO_MAX} characters"
        )
    return name
