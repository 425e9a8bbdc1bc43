"""What every command shares: the --db option's value and opening the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlops_tui import config
from mlops_tui.domain import Stage, parse_stage
from mlops_tui.services.context import Context


class State:
    db: str | None = None


state = State()


@contextmanager
def session() -> Iterator[Context]:
    """A Context on the configured database, closed when the command ends."""
    from mlops_tui.store import open_store

    store = open_store(config.database_url(state.db))
    try:
        yield Context(store, config.current_actor())
    finally:
        store.close()


def stage_option(value: str | None) -> Stage | None:
    return parse_stage(value) if value is not None else None
