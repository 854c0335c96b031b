"""The release-cut tracking issue ("Cut vX.Y.Z release"): opened, kept up to date from the job history and closed
once the announcement is sent (`krel release-issue`; stage, release and announce send at their end).

cut.py (pure: which issue, evidence, text), checklist.py (pure: krel's marked block in a human-edited body),
api.py (GitHub issues calls), tracker.py (open, update, close).
"""


def issue_title(pattern: str, tag: str) -> str:
    """The cut issue's title: the profile's pattern ("Cut {version} release") with the release's tag; krel ff's
    guard looks for the same title (with vX.Y.0), so the issue this tool keeps is the one that holds it back."""
    return pattern.replace("{version}", tag)
