"""The SQL both backends share: models, their history, builds and versions, and the
whole-state transfer; the other areas are mixins (sql_loop, sql_team, sql_registry).

Queries are written once with `?` placeholders, which the dialect rewrites. Timestamps are
aware UTC datetimes on the Python side in both backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from mlops_tui.domain import Build, BuildStatus, Event, Model, Stage, Version
from mlops_tui.errors import InvalidInput, NotFound
from mlops_tui.store import migrations
from mlops_tui.store.base import StatusRow
from mlops_tui.store.schema import BUILDS, EVENTS, EXPORTED, MODELS, VERSIONS
from mlops_tui.store.sql_loop import LoopSql
from mlops_tui.store.sql_registry import RegistrySql
from mlops_tui.store.sql_team import TeamSql

STATUS_COLUMNS = ", ".join(StatusRow._fields)
#: the JSON types an import may hold in a column of each kind (json: anything)
_IMPORTED: dict[str, type | tuple[type, ...]] = {
    "int": int,
    "bool": int,
    "float": (int, float),
    "text": str,
    "enum": str,
    "csv": str,
    "checklist": str,
}


class SqlStore(LoopSql, TeamSql, RegistrySql):
    """Store logic in portable SQL; subclasses supply the connection and the dialect."""

    # -- reads -------------------------------------------------------------------------
    def get_model(self, name: str) -> Model:
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(f"SELECT {MODELS.select()} FROM models WHERE name = ?"),
                (name,),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound(f"no model named {name!r} (see `mlops model list`)")
        return self._model(row)

    def list_models(self, *, stage: Stage | None = None, owner: str | None = None) -> list[Model]:
        return self._rows(MODELS, {"stage": stage, "owner": owner}, order="name")

    def status_rows(
        self, *, stage: Stage | None = None, owner: str | None = None
    ) -> list[StatusRow]:
        # By hand, not `rows`: the one read `mlops status` makes, and its budget is tight.
        clauses = [c for c, v in (("stage = ?", stage), ("owner = ?", owner)) if v is not None]
        params = [str(v) for v in (stage, owner) if v is not None]
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(f"SELECT {STATUS_COLUMNS} FROM models{where} ORDER BY name"),
                params,
            )
            rows = cur.fetchall()
        t = self.dialect.time_out
        return [StatusRow(r[0], r[1], r[2], r[3], r[4], r[5], t(r[6]), r[7]) for r in rows]

    def count_models(self) -> int:
        with self._read() as cur:
            cur.execute("SELECT count(*) FROM models")
            return int(cur.fetchone()[0])

    def history(
        self,
        *,
        model: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        search: str | None = None,
    ) -> list[Event]:
        conditions = []
        if search:
            conditions.append(self.dialect.search(search))
        if since is not None:
            conditions.append(("at >= ?", self.dialect.time_in(since)))
        if until is not None:
            conditions.append(("at < ?", self.dialect.time_in(until)))
        events: list[Event] = self._rows(
            EVENTS, {"model": model, "actor": actor}, conditions=conditions, limit=limit
        )
        return events

    def head(self) -> int:
        with self._read() as cur:
            cur.execute("SELECT COALESCE(max(id), 0) FROM events")
            return int(cur.fetchone()[0])

    def last_event(self, model: str) -> Event | None:
        events = self.history(model=model, limit=1)
        return events[0] if events else None

    # -- writes ------------------------------------------------------------------------
    # -- transfer ----------------------------------------------------------------------
    def _row_out(self, table: Any, row: Sequence[Any]) -> dict[str, Any]:
        out = dict(zip(table.exported, row, strict=True))
        for c in table.columns:
            value = out.get(c.name)
            if value is None:
                continue
            if c.kind == "time":
                out[c.name] = self.dialect.time_out(value).isoformat()
            elif c.kind == "json":
                out[c.name] = self.dialect.json_out(value)
        return out

    def dump(self) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._stream() as cur:
            for table in EXPORTED:
                cur.execute(
                    f"SELECT {', '.join(table.exported)} FROM {table.name} ORDER BY {table.order}"
                )
                while batch := cur.fetchmany(5000):
                    for row in batch:
                        yield table.export_as or table.name, self._row_out(table, row)

    def _rows_in(self, table: Any, rows: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
        """An import's rows as the columns store them. A value of the wrong JSON type is
        refused here, whatever the record type, so neither backend stores it (SQLite would
        keep "abc" in an integer column) or fails on it with a driver error."""
        columns = [table.col(name) for name in table.exported]
        for row in rows:
            out = []
            for c in columns:
                v = row.get(c.name)
                if v is not None:
                    if c.kind == "time":
                        try:
                            v = datetime.fromisoformat(v)
                        except (TypeError, ValueError):
                            raise InvalidInput(f"the import has a bad {c.name}: {v!r}") from None
                    elif not isinstance(v, _IMPORTED.get(c.kind, object)):
                        raise InvalidInput(f"the import has a bad {c.name}: {v!r}")
                    elif isinstance(v, bool):  # a JSON true in a number column: store 1
                        v = int(v)
                out.append(self._value_in(c, v))
            yield out

    def _bulk_insert(self, cur: Any, table: str, columns: Sequence[str], rows: Any) -> None:
        marks = ", ".join("?" for _ in columns)
        cur.executemany(
            self.dialect.sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"), rows
        )

    def _load(self, cur: Any, records: Mapping[str, Iterable[dict[str, Any]]]) -> None:
        for table in EXPORTED:
            rows = records.get(table.export_as or "", ())
            self._bulk_insert(cur, table.name, table.exported, self._rows_in(table, rows))
        self.dialect.after_load(cur)
        # The imported history's head, as if appended here.
        migrations.anchor_chain(migrations.Migration(cur, self.dialect))

    # -- builds and versions ----------------------------------------------------------
    def get_build(self, build_id: int) -> Build:
        found: list[Build] = self._rows(BUILDS, {"id": build_id})
        if not found:
            raise NotFound(f"no build #{build_id}")
        return found[0]

    def builds(
        self,
        *,
        model: str | None = None,
        status: BuildStatus | None = None,
        limit: int | None = None,
    ) -> list[Build]:
        builds: list[Build] = self._rows(BUILDS, {"model": model, "status": status}, limit=limit)
        return builds

    def versions(self, model: str) -> list[Version]:
        versions: list[Version] = self._rows(VERSIONS, {"model": model}, order="number DESC")
        return versions
