"""The embedded default: one SQLite file, in WAL mode so readers never wait for a writer.

Writes take the write lock up front (BEGIN IMMEDIATE) and wait up to `busy_timeout` for it,
so concurrent `mlops` processes queue instead of failing with "database is locked".
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mlops_tui.errors import InvalidInput, StoreUnavailable
from mlops_tui.store import migrations
from mlops_tui.store.dialect import SQLITE
from mlops_tui.store.sql import SqlStore

BUSY_TIMEOUT_MS = 10_000


class SqliteStore(SqlStore):
    backend = "sqlite"
    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self.path = str(path)
        self.location = self.path
        if self.path != ":memory:":
            try:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create the folder for {self.path}: {exc.strerror}"
                ) from None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            self._conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None

    def close(self) -> None:
        self._conn.close()

    def _filesystem_problem(self) -> str | None:
        """Why the folder cannot take writes, when SQLite only says "disk I/O error" or
        "unable to open" (it needs to create the -wal and -shm files next to the database)."""
        if self.path == ":memory:":
            return None
        try:
            fs = os.statvfs(os.path.dirname(os.path.abspath(self.path)))
        except OSError:
            return None
        if fs.f_flag & os.ST_RDONLY:
            return "the file is read-only (its filesystem is mounted read-only)"
        if fs.f_bavail == 0:
            return "the disk is full"
        return None

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        text = str(exc)
        if "disk I/O error" in text or "unable to open" in text or "readonly" in text:
            reason = self._filesystem_problem()
            if reason:
                return StoreUnavailable(f"cannot use the database {self.path}: {reason}")
        if "locked" in text or "busy" in text:
            reason = f"it stayed locked by another writer for {BUSY_TIMEOUT_MS // 1000} s"
        elif "readonly" in text or "read-only" in text:
            reason = "the file is read-only"
        elif "full" in text:
            reason = "the disk is full"
        elif "not a database" in text:
            reason = "the file is not an mlops database"
        elif "unable to open" in text:
            reason = "the file cannot be opened (check the path and permissions)"
        else:
            reason = text
        return StoreUnavailable(f"cannot use the database {self.path}: {reason}")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Cursor]:
        cur = self._conn.cursor()
        try:
            cur.execute(begin)
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from None
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise self._unavailable(exc) from None
            raise
        finally:
            cur.close()

    def _read(self) -> Any:
        return self._transaction("BEGIN")

    def _write(self) -> Any:
        self.grants.require()
        return self._transaction("BEGIN IMMEDIATE")

    def _bulk_insert(self, cur: Any, table: str, columns: Sequence[str], rows: Any) -> None:
        try:
            super()._bulk_insert(cur, table, columns, rows)
        except sqlite3.IntegrityError as exc:
            raise InvalidInput(f"the import has rows the database refuses: {exc}") from None

    def schema_version(self) -> int:
        try:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None

    def migrate(self) -> tuple[int, int]:
        before = self.schema_version()
        if before > migrations.LATEST:
            raise StoreUnavailable(
                f"{self.path} has schema version {before}, newer than this mlops understands "
                f"({migrations.LATEST}): upgrade mlops-tui"
            )
        if before == migrations.LATEST:
            return before, before
        try:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from None
        with self._transaction("BEGIN IMMEDIATE") as cur:  # the schema, not the team's data
            # Another process may have migrated while we waited for the lock.
            current = int(cur.execute("PRAGMA user_version").fetchone()[0])
            migrations.upgrade(cur, self.dialect, current)
        return before, migrations.LATEST
