"""Each handler is declared beside its step type: `@handles(Step)` applies it, `@checks(Step)` preflights it.

A handler is `def handle(step: TheStep, clients: Clients) -> None`: every value it needs is in the step (the planner
copied it there), and the clients opened for the run are the only way out to a store, registry or GitHub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from releng.jobs.clients import Clients
from releng.plan import Step

S = TypeVar("S", bound=Step)
HandlerFn = Callable[[Any, Clients], None]

# Filled as the handler modules are imported (releng.jobs.handlers imports every one of them).
HANDLERS: dict[type[Step], HandlerFn] = {}
CHECKS: dict[type[Step], HandlerFn] = {}


def _into(table: dict[type[Step], HandlerFn], kind: type[S]) -> Callable[[Callable[[S, Clients], None]],
                                                                          Callable[[S, Clients], None]]:
    def register(fn: Callable[[S, Clients], None]) -> Callable[[S, Clients], None]:
        # One handler per step type: a second one is a mistake, not an override.
        if kind in table:
            raise TypeError(f"{kind.__name__} already has {table[kind].__qualname__}; not adding {fn.__qualname__}")
        table[kind] = fn
        return fn

    return register


def handles(kind: type[S]) -> Callable[[Callable[[S, Clients], None]], Callable[[S, Clients], None]]:
    """Declare fn as the idempotent handler that applies steps of type kind."""
    return _into(HANDLERS, kind)


def checks(kind: type[S]) -> Callable[[Callable[[S, Clients], None]], Callable[[S, Clients], None]]:
    """Declare fn as the write-free check of kind's refusals, run by the release preflight."""
    return _into(CHECKS, kind)
