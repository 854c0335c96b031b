"""Loads every fixture module in tests/fixtures/ (git repos, GCS emulator, registry, SMTP, HTTP stubs).

Modules whose name starts with `_` are plain helpers imported by the others, not plugins.
"""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (Path(__file__).parent / "fixtures").glob("*.py") if not p.stem.startswith("_")
)
