"""What every part of the SQL store stands on: its dialect, reading rows as records, the one
query helper, the model's guarded update and the append to the audit chain.

The store's areas (models and builds in sql.py, the loop's evidence, the team, the registry)
are mixins of one class; each derives from SqlCore, so each sees this interface, typed,
and none imports another.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from mlops_tui.domain import CHAIN_GENESIS, Event, Model, NewEvent, chain_hash
from mlops_tui.errors import NotFound
from mlops_tui.store.base import Store
from mlops_tui.store.dialect import Dialect
from mlops_tui.store.schema import EVENTS, MODELS, USERS, Col, R, Table

#: a condition with `?` placeholders and its value, e.g. ("at >= ?", when)
Condition = tuple[str, Any]


class SqlCore(Store):
    """The store's SQL foundation; subclasses supply the connection and its dialect."""

    dialect: Dialect

    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """A cursor for a consistent read."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """A cursor inside a write transaction: committed on success, rolled back on error.
        Refuses (UngatedWrite) unless the gate's grant is in force."""

    def _stream(self) -> AbstractContextManager[Any]:
        """A read that a generator consumes at its caller's pace, so it may stay open long
        (PostgreSQL lifts its cut-off for idle transactions there)."""
        return self._read()

    # -- rows and records ----------------------------------------------------------------
    def _reader(self, table: Table[R]) -> Callable[[Sequence[Any]], R]:
        return table.reader(self.dialect.time_out, self.dialect.json_out)

    def _model(self, row: Sequence[Any]) -> Model:
        return self._reader(MODELS)(row)

    def _event(self, row: Sequence[Any]) -> Event:
        return self._reader(EVENTS)(row)

    def _opt_time(self, value: Any) -> datetime | None:
        return None if value is None else self.dialect.time_out(value)

    def _value_in(self, col: Col, value: Any) -> Any:
        """A Python value as the column stores it."""
        if value is None:
            return None
        kind = col.kind
        if kind == "time":
            return self.dialect.time_in(value)
        if kind == "json":
            return self.dialect.json_in(value)
        if kind == "enum":
            return str(value)
        if kind == "bool":
            return int(value)
        return value

    def _rows(
        self,
        table: Table[R],
        where: Mapping[str, Any] | None = None,
        *,
        conditions: Iterable[Condition] = (),
        order: str | None = None,
        limit: int | None = None,
    ) -> list[R]:
        """The table's records matching `where` (column = value; a None value is no filter)
        and `conditions`, in `order` (default newest id first), at most `limit` (0 or None:
        all). The one query helper behind the listings."""
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in (where or {}).items():
            if value is not None:
                clauses.append(f"{name} = ?")
                params.append(self._value_in(table.col(name), value))
        for clause, value in conditions:
            clauses.append(clause)
            params.append(value)
        query = f"SELECT {table.select()} FROM {table.name}"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += f" ORDER BY {order or 'id DESC'}"
        if limit:
            query += " LIMIT ?"
            params.append(int(limit))
        read = self._reader(table)
        with self._read() as cur:
            cur.execute(self.dialect.sql(query), params)
            return [read(r) for r in cur.fetchall()]

    # -- the model, inside a write ----------------------------------------------------------
    def _lock_model(self, cur: Any, model: str) -> None:
        """Hold the model's row until the transaction ends. Raises NotFound."""
        cur.execute(self.dialect.lock_model, (model,))
        if cur.fetchone() is None:
            raise NotFound(f"no model named {model!r} (see `mlops model list`)")

    def _model_row(self, cur: Any, model: str) -> Model:
        cur.execute(
            self.dialect.sql(f"SELECT {MODELS.select()} FROM models WHERE name = ?"), (model,)
        )
        return self._model(cur.fetchone())

    def _touch_model(
        self, cur: Any, name: str, changes: Mapping[str, Any], event: NewEvent
    ) -> Model:
        """_update_model for a model the transaction holds. Raises NotFound."""
        stored = self._update_model(cur, name, changes, event)
        if stored is None:
            raise NotFound(f"no model named {name!r} (see `mlops model list`)")
        return stored

    def _update_model(
        self,
        cur: Any,
        name: str,
        changes: Mapping[str, Any],
        event: NewEvent,
        *,
        expected_revision: int | None = None,
    ) -> Model | None:
        """Apply `changes` to the model, one revision up, stamped with the event's time and
        actor; only while it is at `expected_revision` when given. Returns the model as
        stored, or None when no row matched (gone, or changed since it was read)."""
        sets = "".join(f"{c} = ?, " for c in changes)
        values = [self._value_in(MODELS.col(c), v) for c, v in changes.items()]
        query = (
            f"UPDATE models SET {sets}revision = revision + 1, updated_at = ?, updated_by = ? "
            "WHERE name = ?"
        )
        params = [*values, self.dialect.time_in(event.at), event.actor, name]
        if expected_revision is not None:
            query += " AND revision = ?"
            params.append(expected_revision)
        cur.execute(self.dialect.sql(f"{query} RETURNING {MODELS.select()}"), params)
        row = cur.fetchone()
        return None if row is None else self._model(row)

    # -- the history -------------------------------------------------------------------------
    def _append(self, cur: Any, event: NewEvent) -> Event:
        """Append `event` inside the change's transaction, linked into the audit chain:
        appenders are serialised, the event takes the next id and stores its previous hash
        and hash, and the chain's anchor moves to it."""
        self.grants.require(actor=event.actor, model=event.model, kind=event.kind)
        if event.data.get("joined"):
            event = self._join(cur, event)
        prev, event_id = self.dialect.next_in_chain(cur)
        prev = prev or CHAIN_GENESIS
        digest = chain_hash(
            prev, event_id, event.at, event.actor, event.model, event.kind, event.data
        )
        self.dialect.append_chain(
            cur,
            (
                event_id,
                self.dialect.time_in(event.at),
                event.actor,
                event.model,
                event.kind,
                self.dialect.json_in(event.data),
                prev,
                digest,
            ),
        )
        return Event(event_id, event.at, event.actor, event.model, event.kind, event.data)

    def _join(self, cur: Any, event: NewEvent) -> NewEvent:
        """Make a person who joins with this change (the service marked the event `joined`
        with their role) a user, in the same transaction. Returns the event to append: without
        the mark when someone else added them meanwhile."""
        at = self.dialect.time_in(event.at)
        cur.execute(
            self.dialect.sql(
                f"INSERT INTO users ({', '.join(USERS.names)}) "
                "VALUES (?, NULL, ?, 1, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING"
            ),
            (event.actor, str(event.data["joined"]), at, event.actor, at, event.actor),
        )
        if cur.rowcount == 0:
            return event.without("joined")
        return event
