"""krel's extraction rules: the release-note block, exclusions, labels, author fix and the markdown line."""

from __future__ import annotations

import dataclasses
import re

from releng.errors import ReleaseError
from releng.notes.note import Documentation, ReleaseNote
from releng.notes.pullrequest import PullRequest

CHERRY_PICK_ROBOT = "k8s-infra-cherrypick-robot"

# krel noteExclusionFilters: NONE / n/a / na (optionally quoted) or an empty block, and the /release-note-none command.
_EXCLUDE = (
    re.compile(r"(?i)```release-notes?\s*['\"]?(none|n/a|na)?['\"]?\s*```"),
    re.compile(r"/release-note-none"),
)
# krel noteTextFromString, in krel's order; the docs block may follow, hence the lazy match.
_BLOCKS = (
    re.compile(r"(?s)```release-notes?\r\n(.+?)\r\n```"),
    re.compile(r"(?s)```dev-release-notes?\r\n(.+?)\r\n```"),
    re.compile(r"(?s)```\r\n(.+?)\r\n```"),
    re.compile(r"(?s)```release-notes?\n(.+?)\n```"),
)
_OPENING = re.compile(r"(?m)^[ \t]*```(?:dev-)?release-notes?[ \t]*\r?$")
_ACTION_REQUIRED = (re.compile(r"(?i)\[action required\]\s"), re.compile(r"(?i)action required:\s"))
_STAR = re.compile(r"(?m)^(\s*)\*\s")
_DOCS = re.compile(r"(?s)```docs\r?\n(.*?)\r?\n?```")
_URL = re.compile(r"https?://\S+")
_CHERRY_PICK_HEAD = re.compile(r"cherry-pick-(\d+)-to")
_SPECIAL_WORDS = {"api": "API", "aws": "AWS", "cli": "CLI", "gcp": "GCP", "vsphere": "vSphere", "vmware": "VMWare"}
_SPECIAL_WORDS["openstack"] = "OpenStack"


class NoteError(ReleaseError):
    """A PR body or map cannot be read as a release note."""


def excluded(body: str) -> bool:
    """krel MatchesExcludeFilter: NONE/n/a/na or empty block, or /release-note-none anywhere."""
    return any(pattern.search(body) for pattern in _EXCLUDE)


def strip_action_required(text: str) -> str:
    """Drop `[action required] ` and `action required: ` prefixes (case-insensitive), as krel does."""
    for pattern in _ACTION_REQUIRED:
        text = pattern.sub("", text)
    return text


def dashify(text: str) -> str:
    """`* ` list markers become `- ` (krel dashify)."""
    return _STAR.sub(r"\1- ", text)


def unlist(text: str) -> str:
    """A note that is one list item loses its marker; later items stay a list (krel unlist)."""
    if not text.startswith("- "):
        return text
    lines = text.split("\n")
    out = [lines[0][2:]]
    for i, line in enumerate(lines[1:], start=1):
        if line.startswith("- "):
            return "\n".join(out + lines[i:])
        out.append(line[2:] if line.startswith("  ") else line)
    return "\n".join(out)


def note_text(body: str, number: int = 0) -> str | None:
    """The cleaned text of the first release-note block, None when there is none; NoteError on an open fence."""
    for pattern in _BLOCKS:
        match = pattern.search(body)
        if match:
            text = match.group(1).replace("\r", "")
            return unlist(dashify(strip_action_required(text))).strip()
    opening = _OPENING.search(body)
    # krel silently skips a block it cannot read; a block that is never closed is an error in the body
    if opening and "```" not in body[opening.end() :]:
        raise NoteError(f"pull request #{number}: its release-note block has no closing ``` fence (unbalanced fences)")
    return None


def documentation(body: str) -> list[Documentation]:
    """Entries of the ```docs block: `description url` per line; kind from the URL."""
    match = _DOCS.search(body)
    if not match:
        return []
    docs = []
    for raw in match.group(1).replace("\r", "").split("\n"):
        url_match = _URL.search(raw)
        if not url_match:
            continue
        url = url_match.group(0).rstrip(").,>")
        description = raw[: url_match.start()].strip().lstrip("-*").strip()
        description = re.sub(r"\s*(:+|--)\s*$", "", description).strip("<> ")
        if "github.com/kubernetes/enhancements" in url and "keps" in url:
            kind = "KEP"
        elif re.match(r"https?://([\w.-]*\.)?kubernetes\.io(/|$)", url):
            kind = "official"
        else:
            kind = "external"
        docs.append(Documentation(description=description, url=url, type=kind))
    return docs


def pretty_sig(sig: str) -> str:
    """krel prettySIG: `api-machinery` -> `API Machinery`, `vsphere` -> `vSphere`."""
    return " ".join(_SPECIAL_WORDS.get(word, word[:1].upper() + word[1:]) for word in sig.split("-"))


def sig_list(sigs: list[str]) -> str:
    """`A`, `A and B`, `A, B and C` over the sorted SIG names."""
    names = [pretty_sig(s) for s in sorted(sigs)]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def capitalize(text: str) -> str:
    """Upper-case the first character only (krel capitalizes the first rune)."""
    return text[:1].upper() + text[1:]


def markdown(text: str, number: int, author: str, pr_url: str, author_url: str, sigs: list[str]) -> str:
    """`text ([#N](url), [@author](url)) [SIG ...]`, continuation lines indented, first letter capitalised."""
    indented = text.replace("\n", "\n  ")
    if pr_url:
        line = f"{indented} ([#{number}]({pr_url}), [@{author}]({author_url or 'https://github.com/' + author}))"
    else:
        line = f"{indented} (#{number}, @{author})"
    if sigs:
        line += f" [SIG {sig_list(sigs)}]"
    return capitalize(line)


def _labels(pr: PullRequest, prefix: str) -> list[str]:
    return [label[len(prefix) + 1 :] for label in pr.labels if label.startswith(prefix + "/")]


def origin_pr(pr: PullRequest) -> int | None:
    """The PR a cherry-pick robot PR copies (head branch `cherry-pick-<N>-to-...`), else None."""
    if pr.author != CHERRY_PICK_ROBOT:
        return None
    match = _CHERRY_PICK_HEAD.search(pr.head_ref)
    return int(match.group(1)) if match else None


def base_note(pr: PullRequest, commit: str, text: str) -> ReleaseNote:
    """A note for pr with the given text; labels, flags and markdown as krel derives them."""
    sigs, kinds = _labels(pr, "sig"), _labels(pr, "kind")
    return ReleaseNote(
        commit=commit,
        text=text,
        markdown=markdown(text, pr.number, pr.author, pr.url, pr.author_url, sigs),
        author=pr.author,
        author_url=pr.author_url,
        pr_url=pr.url,
        pr_number=pr.number,
        areas=_labels(pr, "area"),
        kinds=kinds,
        sigs=sigs,
        documentation=documentation(pr.body),
        feature="kind/feature" in pr.labels,
        duplicate=len(sigs) > 1,
        duplicate_kind=len(kinds) > 1,
        action_required="release-note-action-required" in pr.labels,
        do_not_publish="release-note-none" in pr.labels,
        pr_body=pr.body,
    )


def note_from_pr(pr: PullRequest, commit: str, origin: PullRequest | None = None) -> ReleaseNote | None:
    """krel buildReleaseNote: None when excluded or empty; the robot's cherry-picks credit `origin`'s author."""
    if excluded(pr.body):
        return None
    text = note_text(pr.body, pr.number)
    if not text:
        return None
    if origin is not None:
        pr = dataclasses.replace(pr, author=origin.author, author_url=origin.author_url)
    return base_note(pr, commit, text)
