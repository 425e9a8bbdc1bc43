"""The team backend: a PostgreSQL database that several people and CI jobs share.

The connection is re-opened on the next call after it breaks, so a long-running TUI or
`check --watch` recovers by itself once the server is back.

No writer waits forever behind another one that stalled inside its transaction (a process
stopped in a debugger, a laptop closed over SSH): it gives up after LOCK_TIMEOUT_S (the
dialect's timeouts) with one
line, as on SQLite, and the server ends the stalled session after
IDLE_IN_TRANSACTION_TIMEOUT_S, which releases its locks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from mlops_tui.errors import InvalidInput, PermissionDenied, StoreUnavailable
from mlops_tui.store import migrations
from mlops_tui.store.dialect import (
    CONNECT_TIMEOUT_S,
    LOCK_TIMEOUT_S,
    MIGRATION_LOCK,
    POSTGRESQL,
    SCHEMA_LOCK,
    SESSION_OPTIONS,
    location,
)
from mlops_tui.store.sql import SqlStore

# psycopg logs what it ignores while cleaning up after Ctrl+C ("error ignored in rollback");
# with no logging set up, Python would print that on stderr under the command's own line.
# A NullHandler keeps it off the terminal; whoever configures logging still receives it.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


def describe(url: str) -> str:
    """user@host:port/db, without the password, for messages and `mlops init`."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an invalid PostgreSQL URL"
    return location({k: str(v) for k, v in info.items() if v is not None})


def session_options(url: str) -> str:
    """SESSION_OPTIONS, then the URL's own `options` (or PGOPTIONS, which libpq would have
    used): passing `options` replaces theirs, and the server applies the last of repeated
    settings, so a search_path is kept and a DBA's own timeouts still win."""
    own = conninfo_to_dict(url).get("options") or os.environ.get("PGOPTIONS", "")
    return f"{SESSION_OPTIONS} {own}".strip()


class ChangeWatch:
    """LISTEN on a connection of its own (autocommit, so it holds no transaction open)."""

    def __init__(self, url: str, location: str) -> None:
        self.location = location
        conn = None
        try:
            conn = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="mlops-tui watch",
                options=session_options(url),
            )
            found = conn.execute("SELECT current_schema()").fetchone()
            self._schema = found[0] if found else None
            conn.execute("LISTEN mlops_events")
            self._conn = conn
        except psycopg.Error as exc:
            if conn is not None:
                conn.close()  # connected, but could not listen: no connection left behind
            raise StoreUnavailable(
                f"cannot listen to PostgreSQL at {location}: {_first_line(exc)}"
            ) from None

    def wait(self, timeout: float) -> bool:
        try:
            for notice in self._conn.notifies(timeout=timeout, stop_after=1):
                if notice.payload == self._schema:
                    return True
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"lost the connection to PostgreSQL at {self.location}: {_first_line(exc)}"
            ) from None
        return False

    def close(self) -> None:
        self._conn.close()


class PostgresStore(SqlStore):
    backend = "postgresql"
    dialect = POSTGRESQL

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = describe(url)
        self._conn: psycopg.Connection[Any] | None = None
        self._role: str | None = None  # the role `act_as` took, taken again on reconnecting
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
                options=session_options(self.url),
            )
        except psycopg.ProgrammingError as exc:
            raise InvalidInput(f"invalid PostgreSQL URL: {_first_line(exc)}") from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot reach PostgreSQL at {self.location}: {_first_line(exc)}"
            ) from None
        if self._role is not None:
            self._set_role(self._conn, self._role)
        return self._conn

    def _set_role(self, conn: psycopg.Connection[Any], role: str | None) -> None:
        from psycopg import sql

        statement = (
            sql.SQL("RESET ROLE")
            if role is None
            else sql.SQL("SET ROLE {}").format(sql.Identifier(role))
        )
        try:
            conn.execute(statement)
        except (pg_errors.InsufficientPrivilege, pg_errors.InvalidParameterValue) as exc:
            me = conn.info.user
            raise PermissionDenied(
                f"the server's database role {me} cannot act as {role}: "
                f'an administrator runs GRANT "{role}" TO "{me}" ({_first_line(exc)})'
            ) from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"lost the connection to PostgreSQL at {self.location}: {_first_line(exc)}"
            ) from None

    def act_as(self, role: str | None) -> None:
        conn = self._connect()
        self._set_role(conn, role)
        self._role = role

    def roles_missing(self, roles: Iterable[str]) -> list[str]:
        names = sorted(set(roles))
        if not names:
            return []
        with self._read() as cur:
            cur.execute(
                "SELECT r FROM unnest(%s::text[]) AS r WHERE NOT EXISTS (SELECT 1 FROM pg_roles "
                "WHERE rolname = r AND pg_has_role(current_user, oid, 'MEMBER'))",
                (names,),
            )
            return sorted(row[0] for row in cur.fetchall())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def watch(self) -> ChangeWatch:
        return ChangeWatch(self.url, self.location)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        conn = self._connect()
        outermost = conn.info.transaction_status == pq.TransactionStatus.IDLE
        try:
            with conn.transaction(), conn.cursor() as cur:
                try:
                    yield cur
                except BaseException:
                    # Ctrl+C in the middle of a statement can leave the connection busy: its
                    # rollback would fail ("another command is already in progress") and so
                    # would the clean-up that follows, such as a relay giving its lease back.
                    # Dropping it ends the transaction on the server; the next call reconnects.
                    if conn.info.transaction_status == pq.TransactionStatus.ACTIVE:
                        conn.close()
                    raise
        except pg_errors.LockNotAvailable:
            raise StoreUnavailable(
                f"cannot use the database {self.location}: it stayed locked by another "
                f"writer for {LOCK_TIMEOUT_S} s; nothing was written, try again"
            ) from None
        except pg_errors.IdleInTransactionSessionTimeout:
            raise StoreUnavailable(
                f"PostgreSQL at {self.location} ended this session because it stalled inside "
                "its transaction: nothing was written, try again"
            ) from None
        except pg_errors.QueryCanceled as exc:
            raise StoreUnavailable(
                f"PostgreSQL at {self.location} cancelled the statement "
                f"({_first_line(exc)}): nothing was written"
            ) from None
        except (psycopg.OperationalError, pg_errors.AdminShutdown) as exc:
            raise StoreUnavailable(
                f"lost the connection to PostgreSQL at {self.location}: {_first_line(exc)}"
            ) from None
        except pg_errors.ReadOnlySqlTransaction:
            raise StoreUnavailable(f"PostgreSQL at {self.location} is read-only") from None
        except pg_errors.DiskFull:
            raise StoreUnavailable(f"PostgreSQL at {self.location} has no disk space") from None
        except BaseException:
            # The same Ctrl+C during BEGIN or COMMIT can leave a transaction open that nobody
            # would end, and every later call would run inside it.
            if outermost and conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.close()
            raise

    @contextmanager
    def _stream(self) -> Iterator[psycopg.Cursor[Any]]:
        """A read whose rows go out at the reader's pace (`export | gzip | upload`, `audit
        verify` hashing a long history): the session sits idle in it for as long as the
        reader takes, which is no stall, and it holds no lock a writer waits for."""
        with self._transaction() as cur:
            cur.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            yield cur

    def _read(self) -> Any:
        return self._transaction()

    def _write(self) -> Any:
        self.grants.require()
        return self._transaction()

    def _bulk_insert(self, cur: Any, table: str, columns: Sequence[str], rows: Any) -> None:
        try:
            super()._bulk_insert(cur, table, columns, rows)
        except (pg_errors.IntegrityError, pg_errors.DataError) as exc:
            raise InvalidInput(
                f"the import has rows the database refuses: {_first_line(exc)}"
            ) from None

    def schema_version(self) -> int:
        with self._read() as cur:
            return self.dialect.schema_version(cur)

    def migrate(self) -> tuple[int, int]:
        with self._transaction() as cur:  # the schema, not the team's data
            cur.execute(SCHEMA_LOCK, (MIGRATION_LOCK,))
            before = self.dialect.schema_version(cur)
            if before > migrations.LATEST:
                raise StoreUnavailable(
                    f"{self.location} has schema version {before}, newer than this mlops "
                    f"understands ({migrations.LATEST}): upgrade mlops-tui"
                )
            migrations.upgrade(cur, self.dialect, before)
        return before, migrations.LATEST


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
