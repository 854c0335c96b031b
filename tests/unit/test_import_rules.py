"""The import rules of docs/architecture.md, read from the source with ast (nothing is imported)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RELENG = ROOT / "lib" / "releng"

# Modules that talk to the outside world (processes, network, stores) or run a job's steps.
IO_MODULES = (
    "subprocess", "socket", "smtplib", "urllib.request", "httpx", "requests", "github", "google",
    "releng.git", "releng.objectstore", "releng.registry.client", "releng.registry.auth", "releng.gcb.cloudbuild",
    "releng.gcb.local", "releng.github", "releng.localservices", "releng.digests", "releng.checksums",
)
BACKENDS_AND_HANDLERS = ("releng.jobs.clients", "releng.jobs.handlers", "releng.jobs.observe", "releng.jobs.run",
                         *IO_MODULES)

PLANNERS = ("jobs/options.py", "jobs/steps.py", "jobs/stage.py", "jobs/release.py", "jobs/__init__.py", "plan.py")
PURE_RULES = ("version.py", "markers.py", "layout.py", "notes/note.py", "notes/cve.py", "notes/dependencies.py",
              "notes/pullrequest.py", "notes/extract.py", "notes/document.py")
# Leaf modules: of releng they import only these (so anything may import them without a cycle).
LEAVES = {"digests.py": ("releng.errors",), "notes/pullrequest.py": ()}


def imports_of(path: Path) -> set[str]:
    """Every module path a file imports (both `import a.b` and `from a.b import c` give a.b and a.b.c)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def outside(module: str, allowed: tuple[str, ...]) -> bool:
    return not any(module == a or module.startswith(a + ".") for a in allowed)


def offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in imports_of(path) if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("path", sorted(RELENG.rglob("*.py")), ids=lambda p: str(p.relative_to(RELENG)))
def test_library_never_imports_the_cli(path: Path) -> None:
    assert offending(path, ("krel", "typer", "rich", "click")) == []


@pytest.mark.parametrize("name", PLANNERS)
def test_planners_import_no_backend_or_handler(name: str) -> None:
    assert offending(RELENG / name, BACKENDS_AND_HANDLERS) == []


@pytest.mark.parametrize("name", PURE_RULES)
def test_rules_import_no_io_module(name: str) -> None:
    assert offending(RELENG / name, IO_MODULES) == []


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_leaves_import_nothing_else_of_releng(name: str) -> None:
    allowed = LEAVES[name]
    assert [m for m in offending(RELENG / name, ("releng",)) if outside(m, allowed)] == []


@pytest.mark.parametrize("path", sorted((RELENG / "objectstore").glob("*.py")), ids=lambda p: p.name)
def test_stores_do_not_import_checksum_files(path: Path) -> None:
    """checksums verifies over a store; a store importing it back was the cycle (hashing lives in digests)."""
    assert offending(path, ("releng.checksums",)) == []


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "krel" / "commands").glob("*.py")),
    ids=lambda p: p.name,
)
def test_commands_do_not_import_each_other(path: Path) -> None:
    assert offending(path, ("krel.commands",)) == []


def test_every_step_has_exactly_one_handler() -> None:
    """The pairing lives beside each handler (@handles); a step type without one would fail mid-run."""
    from releng.jobs import steps
    from releng.jobs.handlers import HANDLERS
    from releng.plan import Step

    step_types = {v for v in vars(steps).values() if isinstance(v, type) and issubclass(v, Step) and v is not Step}
    assert set(HANDLERS) == step_types


@pytest.mark.parametrize("path", sorted((RELENG / "jobs" / "handlers").glob("*.py")), ids=lambda p: p.name)
def test_handlers_read_no_profile_or_targets(path: Path) -> None:
    """A handler gets its values from its step and talks out through the clients: never a Profile or Targets."""
    assert offending(path, ("releng.profile.Profile", "releng.profile.Targets")) == []


def test_handlers_are_typed_by_their_step() -> None:
    """`def handle(step: TheStep, clients: Clients)`: the first parameter names the step type it is registered for."""
    import inspect

    from releng.jobs.handlers import CHECKS, HANDLERS

    for table in (HANDLERS, CHECKS):
        for kind, fn in table.items():
            params = list(inspect.signature(fn).parameters.values())
            assert [p.name for p in params] == ["step", "clients"], fn.__qualname__
            assert params[0].annotation in (kind.__name__, kind), fn.__qualname__


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a file importing rich from a releng module is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from rich.console import Console\nimport releng.git\n")
    assert offending(bad, ("rich",)) == ["rich.console", "rich.console.Console"]
    assert offending(bad, IO_MODULES) == ["releng.git"]
