"""krel's CVE rules (pkg/cve Validate) on a map's datafields.cve, and where they run: apply, validate, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from releng.notes import cve, maps
from typer.testing import CliRunner

from krel.app import app

VECTOR = "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:H"
GOOD: dict[str, Any] = {
    "id": "CVE-2021-25741",
    "title": "Symlink exchange can allow host filesystem access",
    "description": "A security issue was discovered in Kubernetes\n  where a user may be able to create a container.",
    "vector": VECTOR,
    "score": 8.1,
    "rating": "High",
    "issue": "https://github.com/kubernetes/kubernetes/issues/104980",
    "linkedPRs": [104253, "x", 104254],
}


def test_a_valid_entry_becomes_a_cve() -> None:
    found = cve.check(GOOD)
    assert (found.id, found.score, found.rating, found.vector) == ("CVE-2021-25741", "8.1", "High", VECTOR)
    assert found.description.startswith("A security issue was discovered in Kubernetes where a user")  # folded
    assert found.linked_prs == (104253, 104254)
    assert found.calc_link == f"https://www.first.org/cvss/calculator/3.1#{VECTOR}"


@pytest.mark.parametrize(
    "vector",
    [
        "CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:C/C:H/I:N/A:N",
        "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N/E:U/RL:O/RC:C",  # base + temporal
        "CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:N/C:L/I:L/A:L",  # any order
    ],
)
def test_valid_vectors(vector: str) -> None:
    assert cve.parse_vector(vector) == vector[5:8]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"rating": ""}, "rating", "missing CVSS rating"),
        ({"rating": "medium"}, "rating", "invalid CVSS rating"),
        ({"rating": VECTOR}, "rating", "invalid CVSS rating"),  # the legacy maps' vector-as-rating
        ({"vector": ""}, "vector", "vector missing"),
        ({"vector": "CVSS:2.0/AV:N/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:H"}, "vector", "must start with CVSS:3.0/"),
        ({"vector": "AV:N/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:H"}, "vector", "must start with"),
        ({"vector": "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:H/I:H"}, "vector", "base metric A missing"),
        ({"vector": "CVSS:3.1/AV:Q/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:H"}, "vector", "AV must be one of"),
        ({"vector": VECTOR + "/AV:N"}, "vector", "given twice"),
        ({"vector": VECTOR + "/XX:Y"}, "vector", "unknown metric"),
        ({"vector": VECTOR + "/"}, "vector", "unknown metric"),
        ({"vector": VECTOR + "/MAV:N"}, "vector", "unknown metric"),  # environmental: krel's decoder refuses too
        ({"vector": VECTOR.replace("A:H", "A:HH")}, "vector", "A must be one of"),
        ({"score": 0}, "score", "missing CVSS score"),
        ({"score": None}, "score", "missing CVSS score"),
        ({"score": "8.1"}, "score", "missing CVSS score"),
        ({"score": True}, "score", "missing CVSS score"),
        ({"score": 10.5}, "score", "out of range"),
        ({"score": -1}, "score", "out of range"),
        ({"id": ""}, "id", "not a well-formed CVE ID"),
        ({"id": "CVE-21-1"}, "id", "not a well-formed CVE ID"),
        ({"id": "CVE-2021-٤٤"}, "id", "not a well-formed CVE ID"),  # Arabic-Indic digits are not \d in krel's Go regexp
        ({"id": "CVE-2021-1\n"}, "id", "not a well-formed CVE ID"),
        ({"id": "xCVE-2021-1"}, "id", "not a well-formed CVE ID"),
        ({"title": "  "}, "title", "title missing"),
        ({"description": None}, "description", "description"),
        ({"linkedPRs": 5}, "linkedPRs", "must be a list"),
    ],
)
def test_krel_rules_in_krel_order(change: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(cve.CveError, match=message) as info:
        cve.check({**GOOD, **change})
    assert info.value.field == field
    assert str(info.value).startswith(f"datafields.cve.{field}: ")


def _map(tmp_path: Path, entry: dict[str, Any]) -> Path:
    import yaml

    (tmp_path / "maps").mkdir(exist_ok=True)
    path = tmp_path / "maps" / "cve.yaml"
    path.write_text(yaml.safe_dump({"pr": 104253, "releasenote": {"text": "Fixed it."}, "datafields": {"cve": entry}}))
    return path


def test_validate_reports_file_pr_and_field(tmp_path: Path) -> None:
    path = _map(tmp_path, {**GOOD, "score": 11})
    assert maps.validate_file(path) == [f"{path}: pr 104253: datafields.cve.score: out of range CVSS score 11, "
                                        "should be 0.0 - 10.0"]
    assert maps.validate_file(_map(tmp_path, GOOD)) == []


def test_cli_validate_exits_2_naming_the_field(tmp_path: Path) -> None:
    _map(tmp_path, {**GOOD, "vector": "CVSS:3.1/AV:N"})
    result = CliRunner().invoke(app, ["release-notes", "validate", str(tmp_path / "maps")])
    assert result.exit_code == 2, result.output
    assert "pr 104253: datafields.cve.vector:" in result.output and "base metric" in result.output
