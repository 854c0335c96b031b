"""Where the shared test data lives: $KREL_SHARED_DATA, else ../shared/data beside the checkout (never a fixed path).

Where it is absent, tests that read it skip with the reason on a developer machine; under CI=true they run and fail,
so CI never passes without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KREL_SHARED_DATA") or CHECKOUT.parent / "shared" / "data").resolve()

requires_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir() and os.environ.get("CI", "").lower() != "true",
    reason=f"shared test data is absent at {SHARED_DATA}: put it at ../shared/data beside the checkout or set "
    "KREL_SHARED_DATA (CI=true runs these tests regardless)",
)
