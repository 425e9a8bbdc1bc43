"""A Context of its own for long work (a build, a Git operation), so it never holds the
shared Backend's lock and the board keeps refreshing while it runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mlops_tui.services.context import Context
from mlops_tui.store import open_store

if TYPE_CHECKING:
    from mlops_tui.tui.backend import Backend


@contextmanager
def own_context(backend: Backend) -> Iterator[Context]:
    store = open_store(backend.url)
    try:
        yield Context(store, backend.actor, clock=backend.clock)
    finally:
        store.close()
