"""Loads every fixture module in tests/fixtures/ (git repos, GCS emulator, registry, SMTP, HTTP stubs)."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (Path(__file__).parent / "fixtures").glob("*.py") if p.stem != "__init__"
)
