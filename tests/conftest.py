"""Loads every fixture module in tests/fixtures/ (git repos, GCS emulator, registry, SMTP, HTTP stubs).

Modules whose name starts with `_` are plain helpers imported by the others, not plugins.
"""

from pathlib import Path

from hypothesis import HealthCheck, settings

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (Path(__file__).parent / "fixtures").glob("*.py") if not p.stem.startswith("_")
)

# Property tests assert what inputs do, not how fast they are generated: on a loaded 2-core CI machine with four
# workers, hypothesis' timing health checks and per-example deadlines fail runs that are correct.
settings.register_profile(
    "krel", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
settings.load_profile("krel")
