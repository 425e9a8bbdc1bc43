"""What every command shares: the root options' settings and opening the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_tui import config
from mlops_tui.domain import Stage, parse_stage
from mlops_tui.services.context import Context

if TYPE_CHECKING:
    from mlops_tui.store.base import Store


@dataclass(frozen=True, slots=True)
class CliSettings:
    """The root options of one `mlops` invocation, stored by the root callback in `ctx.obj`.

    `db` is the --db option's value: None means MLOPS_DB, else the default SQLite file.
    """

    db: str | None = None


def current_settings() -> CliSettings:
    """The settings of the command that is running, found on its Click context.

    Every subcommand's context inherits the root's `obj`; a command invoked without the
    root callback, or code run outside a command, gets the defaults.
    """
    import click  # not at the top: the fast `mlops status` path never imports Click

    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(CliSettings) if ctx is not None else None
    return found if found is not None else CliSettings()


@contextmanager
def session(
    settings: CliSettings | None = None, *, deliver: bool = True, read_only: bool = False
) -> Iterator[Context]:
    """A Context on the configured database, closed when the command ends.

    `settings` defaults to the running command's (`current_settings()`); code that runs
    without Click, such as the fast `mlops status` path, passes its own.

    When the command wrote something (the history's head moved) and `deliver` is on, due
    webhook deliveries and MLflow alias pushes go out briefly first; `mlops status` turns
    this off so that a shell prompt never waits for a receiver. `read_only`: the command
    never writes, so the store may be the lean PostgreSQL reader.
    """
    from mlops_tui.store import open_store

    if settings is None:
        settings = current_settings()
    store = open_store(config.database_url(settings.db), read_only=read_only)
    from mlops_tui.services.team import resolve_actor  # honours identity = "database"

    ctx = Context(store, resolve_actor(store, config.current_actor()))
    head = _head(store) if deliver else None
    try:
        yield ctx
    finally:
        try:
            if head is not None and _head(store) not in (head, None):
                from mlops_tui.services import relays

                relays.after_write(ctx)
        finally:
            store.close()


def _head(store: Store) -> int | None:
    try:
        return store.head()
    except Exception:
        return None  # the database is unreachable: the command itself will say so


def stage_option(value: str | None) -> Stage | None:
    return parse_stage(value) if value is not None else None
