"""krel's checks of a map's `datafields.cve` (pkg/cve `CVE.Validate`), run before any document is built.

The rules, in krel's order: rating is one of FIRST's qualitative ratings; the vector is a well-formed CVSS v3.0/v3.1
vector (every base metric once, optional temporal metrics, only defined values); score is set and within 0.0-10.0;
the ID is `CVE-YYYY-N…`; title and description are not empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from releng.notes.note import Cve

RATINGS = ("None", "Low", "Medium", "High", "Critical")
VERSIONS = ("3.0", "3.1")
# CVSS v3.x specification, section 6 (vector string): metric -> allowed values.
BASE_METRICS = {"AV": "NALP", "AC": "LH", "PR": "NLH", "UI": "NR", "S": "UC", "C": "HLN", "I": "HLN", "A": "HLN"}
TEMPORAL_METRICS = {"E": "XUPFH", "RL": "XOTWU", "RC": "XURC"}
_ID = re.compile(r"CVE-[0-9]{4}-[0-9]+", re.ASCII)  # krel CVEIDRegExp, digits ASCII only


class CveError(ValueError):
    """One field of a CVE entry breaks krel's rules; `field` names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"datafields.cve.{field}: {problem}")
        self.field = field


def parse_vector(vector: str) -> str:
    """The CVSS version of a v3.x vector; raises CveError naming what is wrong (go-cvss Decode, as krel uses it)."""
    prefix, _, rest = vector.partition("/")
    version = prefix.removeprefix("CVSS:")
    if not prefix.startswith("CVSS:") or version not in VERSIONS:
        raise CveError("vector", f"{vector!r} must start with CVSS:3.0/ or CVSS:3.1/")
    allowed = {**BASE_METRICS, **TEMPORAL_METRICS}
    seen: dict[str, str] = {}
    for part in rest.split("/"):
        name, sep, value = part.partition(":")
        if not sep or name not in allowed:
            raise CveError("vector", f"{vector!r}: unknown metric {part!r}")
        if name in seen:
            raise CveError("vector", f"{vector!r}: metric {name} given twice")
        if len(value) != 1 or value not in allowed[name]:
            raise CveError("vector", f"{vector!r}: {name} must be one of {', '.join(allowed[name])}, got {value!r}")
        seen[name] = value
    missing = [name for name in BASE_METRICS if name not in seen]
    if missing:
        raise CveError("vector", f"{vector!r}: base metric {', '.join(missing)} missing")
    return version


def _score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CveError("score", f"missing CVSS score (a number from 0.0 to 10.0), got {value!r}")
    if value == 0:
        raise CveError("score", "missing CVSS score from CVE data")
    if not 0 < value <= 10:
        raise CveError("score", f"out of range CVSS score {value}, should be 0.0 - 10.0")
    return float(value)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def check(data: Any) -> Cve:
    """A validated Cve from the raw `datafields.cve` mapping; the first broken rule raises CveError."""
    if not isinstance(data, Mapping):
        raise CveError("id", "datafields.cve must be a mapping with id, title, description, vector, score, rating")
    rating = _text(data, "rating")
    if not rating:
        raise CveError("rating", "missing CVSS rating from CVE data")
    if rating not in RATINGS:
        raise CveError("rating", f"invalid CVSS rating {rating!r} (expected one of {', '.join(RATINGS)})")
    vector = _text(data, "vector")
    if not vector:
        raise CveError("vector", "string CVSS vector missing from CVE data")
    parse_vector(vector)
    score = _score(data.get("score"))
    cve_id = _text(data, "id")
    if not _ID.fullmatch(cve_id):
        raise CveError("id", f"not a well-formed CVE ID: {cve_id!r} (expected CVE-YYYY-NNNN)")
    title, description = _text(data, "title").strip(), " ".join(_text(data, "description").split())
    if not title:
        raise CveError("title", "title missing from CVE data")
    if not description:
        raise CveError("description", "missing CVE description from CVE data")
    linked = data.get("linkedPRs") or []
    if not isinstance(linked, list):
        raise CveError("linkedPRs", f"must be a list of PR numbers, got {linked!r}")
    return Cve(
        id=cve_id,
        title=title,
        description=description,
        score=f"{score:g}",  # as krel prints its float32: 5.2, 10
        rating=rating,
        vector=vector,
        tracking_issue=_text(data, "issue"),
        # krel keeps the integer entries and skips anything else.
        linked_prs=tuple(n for n in linked if isinstance(n, int) and not isinstance(n, bool)),
    )
