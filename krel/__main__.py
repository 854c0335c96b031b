"""Entry point: `krel` and `python -m krel`."""

from __future__ import annotations

import sys

from krel.app import app


def main() -> None:
    # The root group turns releng errors into one line and exit code 1/2 (see krel/app.py).
    app(prog_name="krel")


if __name__ == "__main__":
    sys.exit(main())
