"""The team backend: a PostgreSQL database that several people and CI jobs share.

The connection is re-opened on the next call after it breaks, so a long-running TUI or
`check --watch` recovers by itself once the server is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from mlops_tui.domain import InvalidInput, StoreUnavailable
from mlops_tui.store import migrations
from mlops_tui.store.sql import SqlStore

CONNECT_TIMEOUT_S = 5
_MIGRATION_LOCK = 0x6D6C6F7073  # "mlops": one migrator at a time


def describe(url: str) -> str:
    """user@host:port/db, without the password, for messages and `mlops init`."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an invalid PostgreSQL URL"
    user = f"{info['user']}@" if info.get("user") else ""
    host = info.get("host") or "localhost"
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{host}{port}/{info.get('dbname', '')}"


class PostgresStore(SqlStore):
    backend = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = describe(url)
        self._conn: psycopg.Connection[Any] | None = None
        self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        try:
            self._conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="mlops-tui",
            )
        except psycopg.ProgrammingError as exc:
            raise InvalidInput(f"invalid PostgreSQL URL: {_first_line(exc)}") from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot reach PostgreSQL at {self.location}: {_first_line(exc)}"
            ) from None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        conn = self._connect()
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except (psycopg.OperationalError, pg_errors.AdminShutdown) as exc:
            raise StoreUnavailable(
                f"lost the connection to PostgreSQL at {self.location}: {_first_line(exc)}"
            ) from None
        except pg_errors.ReadOnlySqlTransaction:
            raise StoreUnavailable(f"PostgreSQL at {self.location} is read-only") from None
        except pg_errors.DiskFull:
            raise StoreUnavailable(f"PostgreSQL at {self.location} has no disk space") from None

    def _read(self) -> Any:
        return self._transaction()

    def _write(self) -> Any:
        return self._transaction()

    _LOCK_MODEL = "SELECT name FROM models WHERE name = ? FOR UPDATE"

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s")

    def _time_in(self, value: datetime) -> datetime:
        return value

    def _time_out(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def _json_in(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def _json_out(self, value: Any) -> Any:
        return value

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, pg_errors.UniqueViolation)

    def _bulk_insert(self, cur: Any, table: str, columns: tuple[str, ...], rows: Any) -> None:
        try:
            super()._bulk_insert(cur, table, columns, rows)
        except (pg_errors.IntegrityError, pg_errors.DataError) as exc:
            raise InvalidInput(
                f"the import has rows the database refuses: {_first_line(exc)}"
            ) from None

    def _after_load(self, cur: Any) -> None:
        tables = ("events", "builds", "test_runs", "deployments", "checks", "alerts", "handoffs")
        tables += ("webhooks", "webhook_deliveries", "webhook_attempts")  # issue 8
        for table in tables:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE(max(id), 1), max(id) IS NOT NULL) FROM {table}"
            )

    def schema_version(self) -> int:
        with self._read() as cur:
            return self._schema_version_in(cur)

    @staticmethod
    def _schema_version_in(cur: psycopg.Cursor[Any]) -> int:
        cur.execute("SELECT to_regclass('mlops_meta') IS NOT NULL")
        if not cur.fetchone()[0]:
            return 0
        cur.execute("SELECT value FROM mlops_meta WHERE key = 'schema_version'")
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> tuple[int, int]:
        with self._write() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            before = self._schema_version_in(cur)
            if before > migrations.LATEST:
                raise StoreUnavailable(
                    f"{self.location} has schema version {before}, newer than this mlops "
                    f"understands ({migrations.LATEST}): upgrade mlops-tui"
                )
            for version in range(before + 1, migrations.LATEST + 1):
                for statement in migrations.POSTGRES[version]:
                    cur.execute(statement)
                if version in migrations.HOOKS:
                    getattr(self, migrations.HOOKS[version])(cur)
                cur.execute(
                    "INSERT INTO mlops_meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (str(version),),
                )
        return before, migrations.LATEST


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
