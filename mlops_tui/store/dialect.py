"""What differs between SQLite and PostgreSQL, in one object per backend.

The shared SQL (sql.py and its mixins) asks its dialect for placeholders, value conversion,
locking and the audit chain's few backend-specific statements, and never asks which backend
runs. Neither imports a driver: SQLite's `mlops status` never loads PostgreSQL's, and
PostgreSQL's lean reader (pg_reader.py) reads without psycopg.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

#: (event id, hash, events appended) of the audit anchor, or None when its row was deleted
Anchor = tuple[int, str, int] | None

INSERT_EVENT = (
    "INSERT INTO events (id, at, actor, model, kind, data, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
MOVE_ANCHOR = "UPDATE audit_anchor SET event = ?, hash = ?, events = events + 1 WHERE id = 1"
# The previous hash, from the anchor (the newest row only when the anchor row is gone), and
# the next id: past every id the history has held: max(id) for rows written behind the
# tool's back, the anchor for deleted newest rows, the backend's counter for rolled-back
# appends. `{counter}` is that counter's expression.
NEXT_IN_CHAIN = (
    "SELECT COALESCE((SELECT hash FROM audit_anchor WHERE id = 1), "
    "(SELECT hash FROM events ORDER BY id DESC LIMIT 1)), {greatest}("
    "COALESCE((SELECT max(id) FROM events), 0) + 1, "
    "COALESCE((SELECT event FROM audit_anchor WHERE id = 1), 0) + 1, "
    "{counter})"
)


def dumps(value: Any) -> str:
    import json  # not at the top: `mlops status` never writes JSON

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Dialect(ABC):
    #: "sqlite" or "postgresql"
    name: str
    #: reads a model's row and keeps others from changing it until the transaction ends
    lock_model: str
    #: the words a migration's SQL leaves to the backend (see migrations.py)
    ddl: ClassVar[dict[str, str]]

    def sql(self, query: str) -> str:
        """The query, written with `?` placeholders, in this backend's placeholder style."""
        return query

    @abstractmethod
    def time_in(self, value: datetime) -> Any:
        """An aware datetime as the database stores it."""

    @abstractmethod
    def time_out(self, value: Any) -> datetime:
        """A stored time as an aware UTC datetime."""

    @abstractmethod
    def json_in(self, value: Any) -> Any:
        """A JSON-ready value as the database stores it."""

    @abstractmethod
    def json_out(self, value: Any) -> Any:
        """A stored JSON value as Python data."""

    @abstractmethod
    def is_unique_violation(self, exc: Exception) -> bool:
        """Whether `exc` is the database refusing a duplicate key."""

    @abstractmethod
    def schema_version(self, cur: Any) -> int:
        """The version the schema is at (0: an empty database)."""

    @abstractmethod
    def set_schema_version(self, cur: Any, version: int) -> None:
        """Record, inside the migrating transaction, that the schema is at `version`."""

    @abstractmethod
    def next_in_chain(self, cur: Any) -> tuple[str | None, int]:
        """Serialise appenders, then return the previous hash and the next event id."""

    @abstractmethod
    def append_chain(self, cur: Any, row: tuple[Any, ...]) -> None:
        """Insert the event row (id, at, actor, model, kind, data, prev_hash, hash) and move
        the anchor to it. No anchor row (deleted behind the tool's back) stays no row."""

    @abstractmethod
    def lift_append_only(self, cur: Any) -> None:
        """Let this transaction update the history (a migration's backfill only)."""

    @abstractmethod
    def restore_append_only(self, cur: Any) -> None:
        """Undo lift_append_only."""

    @abstractmethod
    def search(self, text: str) -> tuple[str, Any]:
        """A condition on `events` (with its parameter) that holds for the events whose
        words include every word of `text`."""

    def one_snapshot(self, cur: Any) -> None:
        """Make every read of this transaction see the same moment, so an append committed
        between two of them cannot look like a deletion (SQLite's reads already do)."""
        return None

    def id_high_water(self, cur: Any) -> int | None:
        """The highest event id the database ever handed out, where that proves something
        (a witness of deleted newest events); None where it does not."""
        return None

    def after_load(self, cur: Any) -> None:
        """Fix up id counters after an import inserted rows with their ids."""
        return None

    def database_user(self, cur: Any) -> str | None:
        """The connection's database role, which no variable can spoof (None: no roles)."""
        return None


_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
    """,
    """
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
    """,
)


class SqliteDialect(Dialect):
    """Times as ISO-8601 text in UTC, JSON as text; BEGIN IMMEDIATE serialises writers, so
    locks need no statement of their own."""

    name = "sqlite"
    lock_model = "SELECT name FROM models WHERE name = ?"
    ddl: ClassVar[dict[str, str]] = {
        "<ID>": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "<TIME>": "TEXT",
        "<JSON>": "TEXT",
        "<BIGINT>": "INTEGER",
        "<FLOAT>": "REAL",
        "<BYTES>": "BLOB",
        "<WITHOUT ROWID>": " WITHOUT ROWID",
    }
    _next = NEXT_IN_CHAIN.format(
        greatest="max",
        counter="COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0) + 1",
    )

    def time_in(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def time_out(self, value: str) -> datetime:
        return datetime.fromisoformat(value)

    def json_in(self, value: Any) -> str:
        return dumps(value)

    def json_out(self, value: str) -> Any:
        import json  # not at the top: `mlops status` never parses JSON

        return json.loads(value)

    def is_unique_violation(self, exc: Exception) -> bool:
        import sqlite3  # loaded already by the store that uses this dialect

        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def schema_version(self, cur: Any) -> int:
        cur.execute("PRAGMA user_version")
        return int(cur.fetchone()[0])

    def set_schema_version(self, cur: Any, version: int) -> None:
        cur.execute(f"PRAGMA user_version = {int(version)}")

    def next_in_chain(self, cur: Any) -> tuple[str | None, int]:
        cur.execute(self._next)
        prev, next_id = cur.fetchone()
        return prev, int(next_id)

    def append_chain(self, cur: Any, row: tuple[Any, ...]) -> None:
        cur.execute(INSERT_EVENT, row)
        cur.execute(MOVE_ANCHOR, (row[0], row[-1]))

    def lift_append_only(self, cur: Any) -> None:
        cur.execute("DROP TRIGGER events_no_update")
        cur.execute("DROP TRIGGER events_no_delete")

    def restore_append_only(self, cur: Any) -> None:
        for statement in _SQLITE_TRIGGERS:
            cur.execute(statement)

    def search(self, text: str) -> tuple[str, Any]:
        # Each word quoted, so nothing the user types is read as FTS5 query syntax.
        words = " ".join('"' + w.replace('"', '""') + '"' for w in text.split())
        return "id IN (SELECT rowid FROM events_search WHERE events_search MATCH ?)", words

    def id_high_water(self, cur: Any) -> int | None:
        """SQLite's AUTOINCREMENT counter (PostgreSQL's sequence also moves on a rolled-back
        append, and so proves nothing)."""
        cur.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        found = cur.fetchone()
        return int(found[0]) if found else 0


SQLITE = SqliteDialect()


# -- PostgreSQL ------------------------------------------------------------------------
CONNECT_TIMEOUT_S = 5
#: How long a statement waits for a lock (a model's row, the audit chain's advisory lock)
#: before the change is given up: SQLite's busy timeout, so both backends say "busy" alike.
LOCK_TIMEOUT_S = 10
#: How long the server keeps a session that sits idle inside a transaction before ending it,
#: and with it the locks that keep everyone else out. Every transaction of ours runs its
#: statements back to back (none waits for a person, the network or Docker), so a healthy
#: one is never idle for more than a moment. Half a minute is far beyond any pause a loaded
#: machine makes between two statements, and keeps a stalled writer from locking the team
#: out for longer than that. A session idle outside a transaction (the TUI between two
#: refreshes) is never ended: that is another setting, which we leave alone.
IDLE_IN_TRANSACTION_TIMEOUT_S = 30
#: Sent in the startup packet, so they cost no round trip (`mlops status` stays as fast).
SESSION_OPTIONS = (
    f"-c lock_timeout={LOCK_TIMEOUT_S}s "
    f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_S}s"
)


def location(info: Mapping[str, str]) -> str:
    """user@host:port/db of parsed connection keywords, without the password: how both
    PostgreSQL stores name the database in messages and `mlops init`."""
    user = f"{info['user']}@" if info.get("user") else ""
    host = info.get("host") or "localhost"
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{host}{port}/{info.get('dbname', '')}"


# Advisory locks: one migrator, and one appender to the audit chain, at a time per schema.
# The second key is the schema's hash, so teams (or test runs) sharing one database in
# separate schemas never wait on each other.
MIGRATION_LOCK = 0x6D6C6F70  # "mlop"
CHAIN_LOCK = MIGRATION_LOCK + 6
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(COALESCE(current_schema(), '')))"
# A data-modifying WITH runs once whether or not the query reads it: the append and the
# anchor's move are one round trip while the chain's lock is held.
APPEND = f"WITH appended AS ({INSERT_EVENT}) {MOVE_ANCHOR}".replace("?", "%s")
IDENTITY_TABLES = (
    "events",
    "builds",
    "test_runs",
    "deployments",
    "checks",
    "alerts",
    "handoffs",
    "webhooks",
    "webhook_deliveries",
    "webhook_attempts",
)


class PostgresDialect(Dialect):
    """Native timestamptz and jsonb; rows locked FOR UPDATE, the chain by an advisory lock."""

    name = "postgresql"
    lock_model = "SELECT name FROM models WHERE name = %s FOR UPDATE"
    ddl: ClassVar[dict[str, str]] = {
        "<ID>": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "<TIME>": "TIMESTAMPTZ",
        "<JSON>": "JSONB",
        "<BIGINT>": "BIGINT",
        "<FLOAT>": "DOUBLE PRECISION",
        "<BYTES>": "BYTEA",
        "<WITHOUT ROWID>": "",
    }
    _next = NEXT_IN_CHAIN.format(
        greatest="GREATEST", counter="nextval(pg_get_serial_sequence('events', 'id'))"
    )

    def sql(self, query: str) -> str:
        return query.replace("?", "%s")

    def time_in(self, value: datetime) -> datetime:
        return value

    def time_out(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def json_in(self, value: Any) -> Any:
        from psycopg.types.json import Jsonb  # only writes send JSON: a reader never loads it

        return Jsonb(value)

    def json_out(self, value: Any) -> Any:
        return value

    def is_unique_violation(self, exc: Exception) -> bool:
        from psycopg import errors as pg_errors

        return isinstance(exc, pg_errors.UniqueViolation)

    def schema_version(self, cur: Any) -> int:
        cur.execute("SELECT to_regclass('mlops_meta') IS NOT NULL")
        found = cur.fetchone()
        if found is None or not found[0]:
            return 0
        cur.execute("SELECT value FROM mlops_meta WHERE key = 'schema_version'")
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def set_schema_version(self, cur: Any, version: int) -> None:
        cur.execute(
            "INSERT INTO mlops_meta (key, value) VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (str(version),),
        )

    def next_in_chain(self, cur: Any) -> tuple[str | None, int]:
        # Two statements (psycopg prepares each after a few runs; one multi-statement string
        # would be planned anew every time), so the read's snapshot is taken once the lock
        # is held: it sees the appender before us, whose commit precedes the unlock.
        cur.execute(SCHEMA_LOCK, (CHAIN_LOCK,))
        cur.execute(self._next)
        prev, next_id = cur.fetchone()
        return prev, int(next_id)

    def append_chain(self, cur: Any, row: tuple[Any, ...]) -> None:
        cur.execute(APPEND, (*row, row[0], row[-1]))

    def lift_append_only(self, cur: Any) -> None:
        cur.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")

    def restore_append_only(self, cur: Any) -> None:
        cur.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")

    def search(self, text: str) -> tuple[str, Any]:
        from mlops_tui.store.migrations import SEARCH_VECTOR, SEARCH_WORDS

        query = SEARCH_WORDS.format("?")
        return f"{SEARCH_VECTOR} @@ plainto_tsquery('simple', {query})", text

    def one_snapshot(self, cur: Any) -> None:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def after_load(self, cur: Any) -> None:
        for table in IDENTITY_TABLES:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE(max(id), 1), max(id) IS NOT NULL) FROM {table}"
            )

    def database_user(self, cur: Any) -> str | None:
        cur.execute("SELECT current_user")
        return str(cur.fetchone()[0])


POSTGRESQL = PostgresDialect()
