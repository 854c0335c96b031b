"""The profile's modes: one list each (a Literal in releng.profile), the same one the backend dicts are keyed by."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest
from releng.announce.ghrelease import PAGE_DESTINATIONS
from releng.announce.mail import TRANSPORTS
from releng.gcb import RUNNERS
from releng.profile import Gcb, GitHubReleaseMode, GitPushMode, Mail, MailTransport, RunnerName, Targets

MODES = {
    "github_release": (GitHubReleaseMode, PAGE_DESTINATIONS, Targets),
    "transport": (MailTransport, TRANSPORTS, Mail),
    "runner": (RunnerName, RUNNERS, Gcb),
}


@pytest.mark.parametrize("name", sorted(MODES))
def test_every_mode_has_exactly_one_implementation(name: str) -> None:
    literal, table, _ = MODES[name]
    assert tuple(table) == typing.get_args(literal)


@pytest.mark.parametrize(("name", "literal", "record"), [
    *((name, literal, record) for name, (literal, _, record) in sorted(MODES.items())),
    ("git_push", GitPushMode, Targets),
])
def test_the_profile_accepts_exactly_the_modes(name: str, literal: Any, record: type) -> None:
    field = {f.name: f for f in dataclasses.fields(record)}[name]
    assert field.metadata["choices"] == typing.get_args(literal)
