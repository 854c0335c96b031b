"""Plans: an ordered tuple of frozen step dataclasses, each able to describe itself in one line."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Step:
    """Base of every plan step; subclasses are frozen dataclasses holding every value they need."""

    @property
    def title(self) -> str:
        """Short human title used in step headers and error prefixes."""
        return type(self).__name__

    def describe(self) -> str:
        """One line saying what the step will do (targets included)."""
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{self.title}({fields})"

    def key(self) -> str:
        """Stable identity of the step, used by the journal."""
        return f"{type(self).__name__}:{json.dumps(self.as_dict(), sort_keys=True, default=str)}"

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class Plan:
    """What a job will do, in order; printing it is the dry run."""

    job: str
    steps: tuple[Step, ...]

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {"index": i, "step": type(s).__name__, "title": s.title, "describe": s.describe(), "fields": s.as_dict()}
            for i, s in enumerate(self.steps, 1)
        ]
