"""The one error tree: ReleaseError (exit 1) and UsageError (exit 2)."""

from __future__ import annotations


class ReleaseError(Exception):
    """A release step or backend failed; the message is one readable line."""

    exit_code = 1


class UsageError(ReleaseError):
    """The caller asked for something invalid (flags, versions, branches, profiles)."""

    exit_code = 2


class StepError(ReleaseError):
    """A plan step failed; wraps the cause as `<step title>: <cause>`."""

    def __init__(self, title: str, cause: BaseException) -> None:
        super().__init__(f"{title}: {cause}")
        self.title = title
        self.cause = cause
        if isinstance(cause, ReleaseError):
            self.exit_code = cause.exit_code
