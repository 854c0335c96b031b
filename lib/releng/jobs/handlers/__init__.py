"""The step handlers, grouped by domain; each module declares its handlers beside their step types (see base)."""

from __future__ import annotations

from releng.jobs.handlers import artifacts, bucket, build, git, images, notes, packages, preflight, signing
from releng.jobs.handlers.base import CHECKS, HANDLERS, HandlerFn

__all__ = ["CHECKS", "HANDLERS", "HandlerFn", "artifacts", "bucket", "build", "git", "images", "notes", "packages",
           "preflight", "signing"]
