"""A job journal: one JSON line per completed step, so a rerun can resume after a crash or kill."""

from __future__ import annotations

import json
import os
from pathlib import Path


class Journal:
    """Append-only record of completed step keys, fsynced so a SIGKILL never loses a finished step."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._done: set[str] = set()
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                # A line cut short by a kill mid-write is simply not a completion.
                try:
                    self._done.add(json.loads(line)["key"])
                except (ValueError, KeyError, TypeError):
                    continue

    def done(self, key: str) -> bool:
        return key in self._done

    def record(self, key: str, title: str) -> None:
        self._done.add(key)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "title": title}) + "\n")
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def memory(cls) -> Journal:
        return cls(None)
