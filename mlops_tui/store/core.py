"""What every part of the SQL store stands on: its dialect, reading rows as records, the one
query helper, the model's guarded update and the append to the audit chain.

The store's areas (models and builds in sql.py, the loop's evidence, the team, the registry)
are mixins of one class; each derives from SqlCore, so each sees this interface, typed,
and none imports another.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from mlops_tui.domain import Event, Model
from mlops_tui.store.base import Store
from mlops_tui.store.dialect import Dialect
from mlops_tui.store.schema import EVENTS, MODELS, Col, R, Table
from mlops_tui.store.unit import Tx

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

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._write() as cur:
            grant = self.grants.require()
            tx = Tx(self, cur, grant)
            yield tx
            tx.close()

    def _load(self, cur: Any, records: Mapping[str, Iterable[dict[str, Any]]]) -> None:
        """Tx.restore's work: the exported records as rows, the chain's anchor set."""
        raise NotImplementedError

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
        if kind == "checklist" and not isinstance(value, str):
            items = [{"item": c.item, "done": c.done} for c in value]
            return json.dumps(items, ensure_ascii=False)
        if kind == "csv" and not isinstance(value, str):
            return ",".join(value)
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
    # -- the history -------------------------------------------------------------------------
