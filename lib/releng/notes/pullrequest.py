"""The pull-request record notes are made from: what every GitHub source returns and the rules read, with no client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PullRequest:
    """The fields of a merged pull request that release notes use."""

    number: int
    title: str
    body: str
    labels: tuple[str, ...]
    author: str
    author_url: str
    url: str
    merge_commit_sha: str
    base_ref: str
    head_ref: str
    head_label: str
    updated_at: str
    merged_at: str

    def to_rest(self) -> dict[str, Any]:
        """The subset of GitHub's REST pull-request object that from_rest reads (krel's record format)."""
        return {
            "number": self.number,
            "title": self.title,
            "body": self.body,
            "labels": [{"name": name} for name in self.labels],
            "user": {"login": self.author, "html_url": self.author_url},
            "html_url": self.url,
            "merge_commit_sha": self.merge_commit_sha,
            "base": {"ref": self.base_ref},
            "head": {"ref": self.head_ref, "label": self.head_label},
            "updated_at": self.updated_at,
            "merged_at": self.merged_at,
        }
