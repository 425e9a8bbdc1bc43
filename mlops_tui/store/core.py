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
from mlops_tui.store.schema import COMPARE, EVENTS, MODELS, Col, R, Table
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

    def _where(self, table: Table[Any], where: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """A WHERE clause and its parameters: `column=value` for each, a None value being
        no condition, and Not, After or Since comparing instead of `=`."""
        clauses, params = [], []
        for name, value in where.items():
            if value is None:
                continue
            op = COMPARE.get(type(value), "=")
            if op != "=":
                value = value.value
            clauses.append(f"{name} {op} ?")
            params.append(self._value_in(table.col(name), value))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def rows(
        self, table: Table[R], *, order: str | None = None, limit: int | None = None, **where: Any
    ) -> list[R]:
        return self._rows(table, where, order=order, limit=limit)

    def row(self, table: Table[R], *, order: str | None = None, **where: Any) -> R | None:
        found = self._rows(table, where, order=order, limit=1)
        return found[0] if found else None

    def _rows(
        self,
        table: Table[R],
        where: Mapping[str, Any],
        *,
        conditions: Iterable[Condition] = (),
        order: str | None = None,
        limit: int | None = None,
    ) -> list[R]:
        """`rows`, and `conditions` written by hand (the history's search)."""
        clause, params = self._where(table, where)
        extra = [c for c, _ in conditions]
        params += [v for _, v in conditions]
        if extra:
            clause += (" AND " if clause else " WHERE ") + " AND ".join(extra)
        query = f"SELECT {table.select()} FROM {table.name}{clause}"
        query += f" ORDER BY {order or table.newest_first}"
        if limit:
            query += " LIMIT ?"
            params.append(int(limit))
        read = self._reader(table)
        with self._read() as cur:
            cur.execute(self.dialect.sql(query), params)
            return [read(r) for r in cur.fetchall()]
