"""Open the configured store. Backends are imported lazily so `mlops status` on SQLite never
pays for the PostgreSQL driver."""

from __future__ import annotations

from mlops_tui.store.base import Change, Checkpoint, ExposedRow, StatusRow, Store

__all__ = [
    "Change",
    "Checkpoint",
    "ExposedRow",
    "StatusRow",
    "Store",
    "is_postgres_url",
    "open_store",
    "sqlite_path",
]


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str) -> str:
    """A file path from a plain path or a URL as SQLAlchemy spells it.

    `sqlite:///rel/path` is relative and `sqlite:////abs/path` absolute, as users of
    SQLAlchemy and MLflow already write them.
    """
    for prefix in ("sqlite:///", "sqlite:"):
        if url.startswith(prefix):
            return url[len(prefix) :]
    return url


def open_store(url: str, *, migrate: bool = True, read_only: bool = False) -> Store:
    """Connect to `url` and, unless told not to, bring its schema up to date.

    `read_only`: the caller only reads (`mlops status`), so on PostgreSQL a lean reader
    without psycopg may serve it; it falls back to the full store for anything unusual.
    Raises StoreUnavailable when the database cannot be reached or is too new.
    """
    store: Store
    if is_postgres_url(url) and read_only:
        from mlops_tui.store.pg_reader import open_reader

        reader = open_reader(url)
        if reader is not None:
            return reader
    if is_postgres_url(url):
        from mlops_tui.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        from mlops_tui.store.sqlite import SqliteStore

        store = SqliteStore(sqlite_path(url))
    if migrate:
        try:
            from mlops_tui.store.migrations import LATEST

            if store.schema_version() != LATEST:
                store.migrate()
        except BaseException:
            store.close()
            raise
    return store
