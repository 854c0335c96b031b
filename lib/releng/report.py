"""How library code reports steps and progress without knowing about any UI."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives step headers, progress and one-line messages; krel/ui.py renders them with rich."""

    def step(self, index: int, total: int, title: str) -> None: ...

    def progress(self, task: str, done: int, total: int) -> None: ...

    def info(self, message: str) -> None: ...

    def output(self, task: str, line: str) -> None:
        """One line a long-running command (the build) just printed; the UI shows a live tail, or nothing."""
        ...


class NullReporter:
    """Discards everything: the default for library callers and tests."""

    def step(self, index: int, total: int, title: str) -> None:
        pass

    def progress(self, task: str, done: int, total: int) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def output(self, task: str, line: str) -> None:
        pass


class RecordingReporter:
    """Keeps every event in order, for tests and for writing a job log."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def step(self, index: int, total: int, title: str) -> None:
        self.events.append(("step", str(index), str(total), title))

    def progress(self, task: str, done: int, total: int) -> None:
        self.events.append(("progress", task, str(done), str(total)))

    def info(self, message: str) -> None:
        self.events.append(("info", message))

    def output(self, task: str, line: str) -> None:
        self.events.append(("output", task, line))
