"""Apply a plan: numbered headers, one idempotent handler per step type, journal, stop at first failure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from releng.errors import ReleaseError, StepError
from releng.journal import Journal
from releng.plan import Plan, Step
from releng.report import Reporter

# A handler applies one step; it must check whether its effect is already there before writing.
Handler = Callable[[Any], None]


def apply(plan: Plan, handlers: Mapping[type[Step], Handler], journal: Journal, report: Reporter) -> None:
    """Run each step in order; a step already in the journal is re-run only through its idempotent handler."""
    total = len(plan.steps)
    for index, step in enumerate(plan.steps, 1):
        report.step(index, total, step.title)
        handler = handlers.get(type(step))
        if handler is None:
            raise ReleaseError(f"{plan.job}: no handler for step {type(step).__name__}")
        key = step.key()
        if journal.done(key):
            report.info(f"resuming: {step.title} was completed before; checking its outputs")
        try:
            handler(step)
        except StepError:
            raise
        except ReleaseError as exc:
            raise StepError(step.title, exc) from exc
        except OSError as exc:
            raise StepError(step.title, ReleaseError(str(exc))) from exc
        journal.record(key, step.title)
