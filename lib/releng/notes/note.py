"""One release note as krel models it, and its JSON form (krel's field names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Documentation:
    """A link from a PR's ```docs block: KEP, official (kubernetes.io) or external."""

    description: str
    url: str
    type: str


@dataclass(frozen=True)
class Cve:
    """The `datafields.cve` entry of a map file."""

    id: str
    title: str
    description: str
    score: str = ""
    rating: str = ""
    vector: str = ""
    tracking_issue: str = ""
    linked_prs: tuple[int, ...] = ()

    @property
    def calc_link(self) -> str:
        """FIRST's CVSS calculator for the vector's version (CVSS:3.0/... -> calculator/3.0)."""
        version = self.vector.split("/", 1)[0].removeprefix("CVSS:") if self.vector.startswith("CVSS:") else "3.1"
        return f"https://www.first.org/cvss/calculator/{version}#{self.vector}"


@dataclass
class ReleaseNote:
    """A note extracted from a merged PR, possibly overridden by maps."""

    commit: str
    text: str
    markdown: str
    author: str
    author_url: str
    pr_url: str
    pr_number: int
    areas: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    sigs: list[str] = field(default_factory=list)
    documentation: list[Documentation] = field(default_factory=list)
    feature: bool = False
    duplicate: bool = False
    duplicate_kind: bool = False
    action_required: bool = False
    do_not_publish: bool = False
    is_mapped: bool = False
    pr_body: str = ""
    cve: Cve | None = None
    map_hides: bool = False  # a map set do_not_publish itself: hidden even though mapped

    @property
    def published(self) -> bool:
        """krel's document rule: DoNotPublish notes are skipped unless a map brought them back."""
        if self.map_hides:
            return False
        return not self.do_not_publish or self.is_mapped

    def to_json(self) -> dict[str, Any]:
        """krel's JSON object for one note (lists and booleans omitted when empty, as Go's omitempty)."""
        data: dict[str, Any] = {
            "commit": self.commit,
            "text": self.text,
            "markdown": self.markdown,
        }
        if self.documentation:
            data["documentation"] = [
                {"description": d.description, "url": d.url, "type": d.type} for d in self.documentation
            ]
        data.update(author=self.author, author_url=self.author_url, pr_url=self.pr_url, pr_number=self.pr_number)
        for key in ("areas", "kinds", "sigs"):
            if getattr(self, key):
                data[key] = list(getattr(self, key))
        for key in ("feature", "duplicate", "duplicate_kind", "action_required", "do_not_publish", "is_mapped"):
            if getattr(self, key):
                data[key] = True
        if self.pr_body:
            data["pr_body"] = self.pr_body
        return data
