"""A profile's template directory (`[templates] dir`) overrides every kind of template: notes, changelog, the GitHub
release page and the Cloud Build config; a template it does not hold comes from the built-in ones (issue 12 item 7)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from releng.announce import ghrelease
from releng.changelog import render_section, toc
from releng.gcb.config import GcbFacts, GcbOptions, build_request
from releng.jobs.options import JobOptions, facts_for
from releng.jobs.stage import plan_stage
from releng.jobs.steps import WriteNotes
from releng.notes import document, render
from releng.profile import Profile, load_profile
from releng.templates import template_path, templates_dir

from tests.fixtures.gcbchoice import chosen
from tests.fixtures.templates import profile_with_templates

MARK = "MARK-from-the-profile"
DOC = document.build([], document.downloads({"demo.tar.gz": "ab" * 64}, "https://dl.example", "v1.1.0"))
BV = "v1.1.0-alpha.0.3+0123456789abcd"


def _stage_yaml() -> str:
    # the built-in stage job with its one local step renamed: the override must reach the request
    return (templates_dir() / "cloudbuild/stage.yaml").read_text().replace("id: krel-stage", f"id: {MARK}")


def _cloudbuild_ids(profile: Profile) -> str:
    request = build_request(
        chosen(GcbOptions(job="stage"), profile),
        profile,
        GcbFacts(build_version=BV, branch_is_new=False, gcp_user="jane", git_tag="v0.1.0"),
        runner="local",
        krel_command="krel",
    )
    return " ".join(step.id for step in request.steps)


# template (relative to the directory) -> (its override text, the output that must change)
KINDS: dict[str, tuple[str, Callable[[Profile], str]]] = {
    "notes/document.md.j2": (f"{MARK} {{{{ tag }}}}\n", lambda p: render.markdown(DOC, "v1.1.0",
                                                                                  profile_dir=p.template_dir())),
    "notes/downloads.md.j2": (f"{MARK}\n", lambda p: render.downloads_markdown(DOC, profile_dir=p.template_dir())),
    "notes/notes.md.j2": (f"{MARK}\n", lambda p: render.notes_markdown(DOC, profile_dir=p.template_dir())),
    "notes/page.html.j2": (
        f"<p>{MARK}</p>{{{{ body }}}}", lambda p: render.html("# x", "v1", profile_dir=p.template_dir())
    ),
    "changelog/section.md.j2": (
        f"## {MARK} {{{{ tag }}}}\n",
        lambda p: render_section(DOC, "v1.1.1", "v1.1.0", "notes", profile_dir=p.template_dir()),
    ),
    "changelog/minor_downloads.md.j2": (
        f"{MARK}\n",
        lambda p: render_section(DOC, "v1.2.0", "v1.1.0", "notes", profile_dir=p.template_dir()),
    ),
    "changelog/file.md.j2": (
        f"{MARK}\n{{{{ begin }}}}\n{{{{ end }}}}\n",
        lambda p: toc.merge(None, "## v1.1.1\n\nnotes\n", "v1.1.1", "CHANGELOG-1.1.md", profile_dir=p.template_dir()),
    ),
    "changelog/readme.md.j2": (
        f"# {MARK}\n{{% for e in entries %}}- [{{{{ e }}}}](./{{{{ e }}}})\n{{% endfor %}}",
        lambda p: toc.readme_with(None, "CHANGELOG-1.1.md", profile_dir=p.template_dir()),
    ),
    "announce/github-release.md.j2": (f"{MARK} {{{{ tag }}}}\n", lambda p: ghrelease.render_release_page(p, "v1.1.0")),
    "cloudbuild/stage.yaml": (_stage_yaml(), _cloudbuild_ids),
}


def _profile(tmp_path: Path, overrides: dict[str, str]) -> Profile:
    return profile_with_templates(tmp_path, overrides,
                                  {"krel_home": str(tmp_path / "home"), "local_registry": "127.0.0.1:5000"})


@pytest.mark.parametrize("name", list(KINDS))
def test_an_override_changes_the_output(tmp_path: Path, name: str) -> None:
    text, produce = KINDS[name]
    builtin = produce(_profile(tmp_path / "plain", {}))
    overridden = produce(_profile(tmp_path / "own", {name: text}))
    assert MARK not in builtin
    assert MARK in overridden


def test_what_the_profile_does_not_override_comes_from_the_builtins(tmp_path: Path) -> None:
    profile = _profile(tmp_path, {"notes/notes.md.j2": f"{MARK}\n"})
    text = render.markdown(DOC, "v1.1.0", profile_dir=profile.template_dir())
    assert MARK in text and "demo.tar.gz" in text  # the built-in document and downloads around the override
    assert template_path("notes/notes.md.j2", profile.template_dir()) == profile.template_dir() / "notes/notes.md.j2"
    assert template_path("cloudbuild/stage.yaml", profile.template_dir()) == templates_dir() / "cloudbuild/stage.yaml"


@pytest.mark.parametrize("own", [True, False], ids=["profile-dir", "builtins-only"])
def test_the_stage_job_writes_its_notes_with_the_profile_templates(tmp_path: Path, own: bool) -> None:
    profile = _profile(tmp_path, {"notes/notes.md.j2": f"{MARK}\n"}) if own else load_profile(
        "local", {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})
    options = JobOptions("master", "alpha", BV, profile, tmp_path, notes=True, replay_dir="/replay")
    plan = plan_stage(options, profile.mock, facts_for(options, BV, False))
    (notes,) = [step for step in plan.steps if isinstance(step, WriteNotes)]
    assert notes.template_dir == (str(profile.template_dir()) if own else "")
