"""krel profile show|check|init: every problem of a hostile profile listed with file:line, starters never overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from releng.profile import BUILTIN_DIR
from typer.testing import CliRunner

from krel.app import app

GOOD = (BUILTIN_DIR / "local.toml").read_text()


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def _line(text: str, fragment: str) -> int:
    """The line of text holding fragment (the expected position of a problem); 0: no line."""
    if not fragment:
        return 0
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


NO_GCB = GOOD.replace('[gcb]\nrunner = "local"\ntimeout_s = 3600\n', "")
# (id, profile text, expected problems as (text on the problem's line, fragment of the message))
HOSTILE = [
    ("key-after-last-table", GOOD + 'colour = "red"\n', [('colour = "red"', "unknown key nomock.colour")]),
    ("typo-table-key", _with(GOOD, 'repo = "demo"', 'repoo = "demo"'),
     [('repoo = "demo"', "unknown key upstream.repoo; did you mean 'repo'?"),
      ("[upstream]", "missing required key upstream.repo")]),
    ("bad-choice-and-mail", _with(_with(GOOD, 'git_push = "dry-run"', 'git_push = "maybe"'),
                                   'email = "release-robot@localhost"', 'email = "robot"'),
     [('email = "robot"', "git_author.email: 'robot' is not one bare mail address"),
      ('git_push = "maybe"', "mock.git_push must be one of")]),
    ("wrong-types", _with(_with(GOOD, 'arches = ["amd64", "arm64"]', 'arches = "amd64"'),
                          "min_free_gib = 1", 'min_free_gib = "1"'),
     [('arches = "amd64"', "build.arches must be a list of strings"),
      ('min_free_gib = "1"', "build.min_free_gib must be int")]),
    ("unknown-placeholder", _with(GOOD, '"file://{krel_home}/buckets/ci"', '"file://{krel_hme}/buckets/ci"'),
     [("krel_hme", "unknown placeholder {krel_hme}"), ("krel_hme", "ci_bucket: object store URL")]),
    ("missing-table", GOOD.split("[nomock]")[0], [("", "missing required key nomock")]),
    ("mock-reaches-production", _with(GOOD, 'bucket = "file://{krel_home}/buckets/mock"',
                                      'bucket = "file://{krel_home}/buckets/release"'),
     [("[mock]", "mock targets must not reach production")]),
    ("control-char-in-value", _with(GOOD, 'product = "Demo"', 'product = "De\\u001bmo"'),
     [("product =", "product: contains control character U+001B")]),
    ("not-toml", GOOD + "[[[\n", [("[[[", "not valid TOML")]),
    ("table-is-string", 'gcb = "x"\n' + NO_GCB, [('gcb = "x"', "gcb must be a table")]),
    ("bad-template-dir-and-toolchain", GOOD + '\n[announce]\ntoolchain = "Go\\n1.22"\n\n[templates]\ndir = "-x"\n',
     [('dir = "-x"', "templates.dir"), ("toolchain =", "announce.toolchain")]),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in HOSTILE])
def test_check_lists_every_problem_with_file_and_line(tmp_path: Path, krel_home: Path, text: str,
                                                      expected: list[tuple[str, str]]) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["profile", "check", str(path), "--json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == len(expected), problems
    for line, (where, fragment) in zip(problems, expected, strict=True):
        at = _line(text, where)
        prefix = f"{path}:{at}: " if at else f"{path}: "
        assert line.startswith(prefix) and fragment in line, (line, at, fragment)
        assert "\n" not in line and "\x1b" not in line
    assert result.stderr.count("error: ") == len(expected)  # one red line per problem


def test_check_good_profiles(krel_home: Path) -> None:
    for name in ("local", "kubernetes"):
        result = CliRunner().invoke(app, ["profile", "check", name])
        assert result.exit_code == 0 and result.stdout.strip() == f"{name}: ok", result.output


def test_show_prints_the_resolved_profile_as_toml(krel_home: Path) -> None:
    import tomllib

    result = CliRunner().invoke(app, ["profile", "show", "--profile", "local"])
    assert result.exit_code == 0, result.output
    data = tomllib.loads(result.stdout)
    assert data["ci_bucket"] == f"file://{krel_home}/buckets/ci" and data["gcb"]["timeout_s"] == 3600
    shown = json.loads(CliRunner().invoke(app, ["profile", "show", "--json"]).stdout)
    assert shown["upstream"] == data["upstream"]


def test_init_writes_a_profile_that_checks_and_loads(tmp_path: Path, krel_home: Path) -> None:
    path = tmp_path / "proj.toml"
    result = CliRunner().invoke(app, ["profile", "init", str(path), "--upstream", "https://github.com/me/proj.git",
                                      "--build", "./build.sh"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(app, ["profile", "check", str(path)]).exit_code == 0
    shown = json.loads(CliRunner().invoke(app, ["profile", "show", "--profile", str(path), "--json"]).stdout)
    assert (shown["upstream"]["org"], shown["upstream"]["repo"], shown["build"]["command"]) == (
        "me", "proj", "./build.sh")


@pytest.mark.parametrize(
    ("name", "setup", "fragment"),
    [
        pytest.param("exists.toml", "file", "already exists", id="existing-file"),
        pytest.param("link.toml", "symlink", "already exists", id="existing-symlink"),
        pytest.param("dangling.toml", "dangling", "already exists", id="dangling-symlink"),
        pytest.param("Bad Name.toml", "", "must be lower-case", id="bad-name"),
    ],
)
def test_init_refuses(tmp_path: Path, krel_home: Path, name: str, setup: str, fragment: str) -> None:
    path = tmp_path / name
    target = tmp_path / "target.txt"
    target.write_text("keep me\n")
    if setup == "file":
        path.write_text("keep me\n")
    elif setup == "symlink":
        path.symlink_to(target)
    elif setup == "dangling":
        path.symlink_to(tmp_path / "nowhere")
    result = CliRunner().invoke(app, ["profile", "init", str(path), "--upstream", "https://github.com/me/p.git"])
    assert result.exit_code == 2 and fragment in result.stderr, result.output
    assert target.read_text() == "keep me\n" and not (tmp_path / "nowhere").exists()
    if setup == "file":
        assert path.read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("toolchain", "go_version", "line"),
    [
        pytest.param("", "1.22.4", "Demo <b>v1.0.0</b> has been built and pushed.\n", id="absent-no-line"),
        pytest.param("go", "1.22.4", "using Golang version <b>1.22.4</b>.", id="go-given"),
        pytest.param("go", "", "using Golang version <b>", id="go-detected-or-unknown"),
        pytest.param("Rust <1.79>", "", "using <b>Rust &lt;1.79&gt;</b>.", id="own-text-escaped"),
    ],
)
def test_announcement_toolchain_line_comes_from_the_profile(tmp_path: Path, toolchain: str, go_version: str,
                                                            line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from releng.announce.compose import build_announcement
    from releng.profile import load_profile

    monkeypatch.setenv("PATH", str(tmp_path))  # no `go` here: announce must not fail
    path = tmp_path / "p.toml"
    path.write_text(GOOD + f'\n[announce]\ntoolchain = {json.dumps(toolchain)}\n')
    profile = load_profile(path, {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})
    html = build_announcement(profile, "v1.0.0", go_version=go_version).html
    assert line in html
    if toolchain == "go" and not go_version:
        assert "Golang version <b>unknown</b>" in html


def test_profile_template_dir_overrides_one_template(tmp_path: Path) -> None:
    from releng.announce.compose import build_announcement
    from releng.profile import load_profile

    (tmp_path / "mine/announce").mkdir(parents=True)
    (tmp_path / "mine/announce/release-subject.txt.j2").write_text("[{{ product }}] {{ tag }} released\n")
    path = tmp_path / "p.toml"
    path.write_text(GOOD + '\n[templates]\ndir = "mine"\n')
    profile = load_profile(path, {"krel_home": str(tmp_path), "local_registry": "127.0.0.1:5000"})
    announcement = build_announcement(profile, "v1.0.0")
    assert announcement.subject == "[Demo] v1.0.0 released"  # the profile's own template
    assert "Demo Community," in announcement.html  # the built-in one for everything it does not override
