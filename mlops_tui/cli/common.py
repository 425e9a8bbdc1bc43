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
def session(*, deliver: bool = True) -> Iterator[Context]:
    """A Context on the configured database, closed when the command ends.

    When the command wrote something (the history's head moved) and `deliver` is on, due
    webhook deliveries go out for at most a second first (issue 8); `mlops status` turns
    this off so that a shell prompt never waits for a receiver.
    """
    from mlops_tui.store import open_store

    store = open_store(config.database_url(state.db))
    from mlops_tui.services.team import resolve_actor  # identity = "database" (issue 6)

    ctx = Context(store, resolve_actor(store, config.current_actor()))
    head = _head(store) if deliver else None
    try:
        yield ctx
    finally:
        try:
            if head is not None and _head(store) not in (head, None):
                from mlops_tui.services import webhooks

                webhooks.after_write(ctx)
        finally:
            store.close()


def _head(store: object) -> int | None:
    try:
        return store.head()  # type: ignore[attr-defined]
    except Exception:
        return None  # the database is unreachable: the command itself will say so


def stage_option(value: str | None) -> Stage | None:
    return parse_stage(value) if value is not None else None
