import pytest
from releng.git import pr_number


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Merge pull request #76030 from andrewsykim/e2e-legacyscheme", 76030),
        ("Add swapoff to centos so kubelet starts (#504)", 504),
        ('Revert "some pr (#1000)" (#1234)\n\n\nThis reverts commit abc123.', 1234),
        ("Merge pull request #11 from x/automated-cherry-pick-of-#99-upstream-release-1.2", 11),
        ("Update foo\n\nautomated-cherry-pick-of-#99-upstream-release-1.2", 99),
        ("Fix (#12) and (#13)", 12),
        ("No number here", None),
        ("", None),
    ],
)
def test_pr_number_krel_order(message: str, expected: int | None) -> None:
    assert pr_number(message) == expected
