"""The SQL both backends share; a backend only says how to connect and how values travel.

Queries are written once with `?` placeholders; the PostgreSQL backend rewrites them to
`%s`. Timestamps are aware UTC datetimes on the Python side in both backends.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from mlops_tui.domain import (
    AlreadyExists,
    Build,
    BuildStatus,
    Conflict,
    Event,
    Health,
    InvalidInput,
    Model,
    NewEvent,
    NotFound,
    Stage,
    Version,
)
from mlops_tui.store.base import Change, StatusRow, Store
from mlops_tui.store.sql_loop import LOOP_JSON_COLUMNS, LOOP_TABLES, LOOP_TIME_COLUMNS, LoopSql
from mlops_tui.store.sql_registry import REGISTRY_TABLES, REGISTRY_TIME_COLUMNS, RegistrySql
from mlops_tui.store.sql_team import TEAM_TABLES, TeamSql

MODEL_COLUMNS = (
    "name",
    "description",
    "repo",
    "tags",
    "stage",
    "iteration",
    "owner",
    "backup",
    "oncall",
    "version",
    "production_version",
    "health",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "revision",
)
EVENT_COLUMNS = ("id", "at", "actor", "model", "kind", "data")
VERSION_COLUMNS = (
    "model",
    "number",
    "inputs",
    "commit_sha",
    "data_ref",
    "params",
    "image",
    "image_id",
    "created_at",
    "created_by",
)
BUILD_COLUMNS = (
    "id",
    "model",
    "version",
    "inputs",
    "commit_sha",
    "ref",
    "status",
    "started_at",
    "actor",
    "finished_at",
    "host",
    "pid",
    "image",
    "url",
    "error",
    "log_tail",
)
STATUS_COLUMNS = StatusRow._fields
_TIME_COLUMNS = (
    frozenset({"created_at", "updated_at", "at", "started_at", "finished_at"})
    | LOOP_TIME_COLUMNS
    | REGISTRY_TIME_COLUMNS
)
_JSON_COLUMNS = frozenset({"tags", "data", "params"}) | LOOP_JSON_COLUMNS
# Record type, table, columns, order: what export and import carry, in dependency order.
TABLES = (
    ("model", "models", MODEL_COLUMNS, "name"),
    ("version", "versions", VERSION_COLUMNS, "model, number"),
    ("build", "builds", BUILD_COLUMNS, "id"),
    *LOOP_TABLES,  # issue 5: test runs, deployments, checks, alerts
    *REGISTRY_TABLES,  # issue 8: approval rules, webhooks, their outbox and log
    *TEAM_TABLES,  # issue 6: people, shared settings, handoffs, model links
    ("event", "events", (*EVENT_COLUMNS, "prev_hash", "hash"), "id"),
)
# Columns update_model may change; the rest are set once or derived from the event.
UPDATABLE = frozenset(MODEL_COLUMNS) - {
    "name",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "revision",
}


class SqlStore(LoopSql, TeamSql, RegistrySql, Store):
    """Store logic in portable SQL; subclasses supply the connection and value conversion."""

    # -- dialect hooks -----------------------------------------------------------------
    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """A cursor for a consistent read."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """A cursor inside a write transaction: committed on success, rolled back on error."""

    def _stream(self) -> AbstractContextManager[Any]:
        """A read that a generator consumes at its caller's pace, so it may stay open long
        (PostgreSQL lifts its cut-off for idle transactions there)."""
        return self._read()

    @abstractmethod
    def _time_in(self, value: datetime) -> Any: ...

    @abstractmethod
    def _time_out(self, value: Any) -> datetime: ...

    @abstractmethod
    def _json_in(self, value: Any) -> Any: ...

    @abstractmethod
    def _json_out(self, value: Any) -> Any: ...

    @abstractmethod
    def _is_unique_violation(self, exc: Exception) -> bool: ...

    def _sql(self, query: str) -> str:
        return query

    #: how to read a model row while keeping others from changing it until commit
    _LOCK_MODEL = "SELECT name FROM models WHERE name = ?"

    # -- helpers -----------------------------------------------------------------------
    def _model(self, row: tuple[Any, ...]) -> Model:
        v = dict(zip(MODEL_COLUMNS, row, strict=True))
        v["tags"] = self._json_out(v["tags"])
        v["stage"] = Stage(v["stage"])
        v["health"] = Health(v["health"])
        v["created_at"] = self._time_out(v["created_at"])
        v["updated_at"] = self._time_out(v["updated_at"])
        return Model(**v)

    def _event(self, row: tuple[Any, ...]) -> Event:
        id_, at, actor, model, kind, data = row
        return Event(int(id_), self._time_out(at), actor, model, kind, self._json_out(data))

    def _value_in(self, column: str, value: Any) -> Any:
        if value is None:
            return None
        if column in _TIME_COLUMNS:
            return self._time_in(value)
        if column in _JSON_COLUMNS:
            return self._json_in(value)
        return str(value) if column in ("stage", "health") else value

    def _append(self, cur: Any, event: NewEvent) -> Event:
        self.grants.require(actor=event.actor, model=event.model, kind=event.kind)
        # The audit chain (sql_team): serialise appends, take the next id and link the hash,
        # then write the row and move the chain's anchor to it.
        event_id, prev, digest = self._chain_next(cur, event)
        self._chain_append(
            cur,
            (
                event_id,
                self._time_in(event.at),
                event.actor,
                event.model,
                event.kind,
                self._json_in(event.data),
                prev,
                digest,
            ),
        )
        return Event(int(event_id), event.at, event.actor, event.model, event.kind, event.data)

    @staticmethod
    def _where(filters: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
        if not filters:
            return "", []
        return " WHERE " + " AND ".join(c for c, _ in filters), [v for _, v in filters]

    # -- reads -------------------------------------------------------------------------
    def get_model(self, name: str) -> Model:
        with self._read() as cur:
            cur.execute(
                self._sql(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE name = ?"),
                (name,),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound(f"no model named {name!r} (see `mlops model list`)")
        return self._model(row)

    def _model_filters(self, stage: Stage | None, owner: str | None) -> list[tuple[str, Any]]:
        filters: list[tuple[str, Any]] = []
        if stage is not None:
            filters.append(("stage = ?", str(stage)))
        if owner is not None:
            filters.append(("owner = ?", owner))
        return filters

    def list_models(self, *, stage: Stage | None = None, owner: str | None = None) -> list[Model]:
        where, params = self._where(self._model_filters(stage, owner))
        with self._read() as cur:
            cur.execute(
                self._sql(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models{where} ORDER BY name"),
                params,
            )
            rows = cur.fetchall()
        return [self._model(r) for r in rows]

    def status_rows(
        self, *, stage: Stage | None = None, owner: str | None = None
    ) -> list[StatusRow]:
        where, params = self._where(self._model_filters(stage, owner))
        with self._read() as cur:
            cur.execute(
                self._sql(f"SELECT {', '.join(STATUS_COLUMNS)} FROM models{where} ORDER BY name"),
                params,
            )
            rows = cur.fetchall()
        t = self._time_out
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
    ) -> list[Event]:
        filters: list[tuple[str, Any]] = []
        if model is not None:
            filters.append(("model = ?", model))
        if actor is not None:
            filters.append(("actor = ?", actor))
        if since is not None:
            filters.append(("at >= ?", self._time_in(since)))
        if until is not None:
            filters.append(("at < ?", self._time_in(until)))
        where, params = self._where(filters)
        query = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events{where} ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(int(limit))
        with self._read() as cur:
            cur.execute(self._sql(query), params)
            rows = cur.fetchall()
        return [self._event(r) for r in rows]

    def head(self) -> int:
        with self._read() as cur:
            cur.execute("SELECT COALESCE(max(id), 0) FROM events")
            return int(cur.fetchone()[0])

    def last_event(self, model: str) -> Event | None:
        events = self.history(model=model, limit=1)
        return events[0] if events else None

    # -- writes ------------------------------------------------------------------------
    def insert_model(self, model: Model, event: NewEvent) -> Change:
        values = [self._value_in(c, getattr(model, c)) for c in MODEL_COLUMNS]
        marks = ", ".join("?" for _ in MODEL_COLUMNS)
        try:
            with self._write() as cur:
                cur.execute(
                    self._sql(f"INSERT INTO models ({', '.join(MODEL_COLUMNS)}) VALUES ({marks})"),
                    values,
                )
                return Change(model, self._append(cur, event))
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExists(f"a model named {model.name!r} already exists") from None
            raise

    def update_model(
        self,
        name: str,
        *,
        expected_revision: int,
        changes: Mapping[str, Any],
        event: NewEvent,
    ) -> Change:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        columns = [*changes, "updated_at", "updated_by"]
        values = [self._value_in(c, v) for c, v in changes.items()]
        values += [self._time_in(event.at), event.actor]
        assignments = ", ".join(f"{c} = ?" for c in columns)
        with self._write() as cur:
            cur.execute(
                self._sql(
                    f"UPDATE models SET {assignments}, revision = revision + 1 "
                    f"WHERE name = ? AND revision = ? RETURNING {', '.join(MODEL_COLUMNS)}"
                ),
                [*values, name, expected_revision],
            )
            row = cur.fetchone()
            if row is not None:
                return Change(self._model(row), self._append(cur, event))
        # Nothing matched: either the model is gone or someone else got there first.
        raise Conflict.stale(self.get_model(name), expected_revision)

    def append_event(self, event: NewEvent) -> Event:
        with self._write() as cur:
            return self._append(cur, event)

    # -- transfer ----------------------------------------------------------------------
    def _row_out(self, columns: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
        out = dict(zip(columns, row, strict=True))
        for c in columns:
            if c in _TIME_COLUMNS:
                if out[c] is not None:  # a running build's finished_at, a delivered webhook's…
                    out[c] = self._time_out(out[c]).isoformat()
            elif c in _JSON_COLUMNS:
                out[c] = self._json_out(out[c])
        return out

    def dump(self) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._stream() as cur:
            for kind, table, columns, order in TABLES:
                cur.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
                while batch := cur.fetchmany(5000):
                    for row in batch:
                        yield kind, self._row_out(columns, row)

    def _rows_in(
        self, columns: tuple[str, ...], rows: Iterable[dict[str, Any]]
    ) -> Iterator[list[Any]]:
        for row in rows:
            out = []
            for c in columns:
                v = row.get(c)
                if v is not None and c in _TIME_COLUMNS:
                    try:
                        v = datetime.fromisoformat(v)
                    except (TypeError, ValueError):  # a record type the import does not check
                        raise InvalidInput(f"the import has a bad {c}: {v!r}") from None
                out.append(self._value_in(c, v))
            yield out

    def _bulk_insert(self, cur: Any, table: str, columns: tuple[str, ...], rows: Any) -> None:
        marks = ", ".join("?" for _ in columns)
        cur.executemany(
            self._sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"), rows
        )

    def _after_load(self, cur: Any) -> None:
        """Hook: fix up sequences after rows were inserted with their ids."""

    def load(self, records: Mapping[str, Iterable[dict[str, Any]]]) -> None:
        with self._write() as cur:
            cur.execute("SELECT (SELECT count(*) FROM models) + (SELECT count(*) FROM events)")
            if cur.fetchone()[0]:
                raise Conflict(
                    "the database is not empty: import only into a new database "
                    "(point MLOPS_DB at a new file or an empty PostgreSQL database)"
                )
            for kind, table, columns, _ in TABLES:
                rows = records.get(kind, ())
                self._bulk_insert(cur, table, columns, self._rows_in(columns, rows))
            self._after_load(cur)
            self._anchor_chain(cur)  # the imported history's head, as if appended here

    # -- builds and versions ----------------------------------------------------------
    def _version(self, row: tuple[Any, ...]) -> Version:
        v = dict(zip(VERSION_COLUMNS, row, strict=True))
        v["commit"] = v.pop("commit_sha")
        v["params"] = self._json_out(v["params"])
        v["created_at"] = self._time_out(v["created_at"])
        return Version(**v)

    def _build(self, row: tuple[Any, ...]) -> Build:
        b = dict(zip(BUILD_COLUMNS, row, strict=True))
        b["id"] = int(b["id"])
        b["commit"] = b.pop("commit_sha")
        b["status"] = BuildStatus(b["status"])
        b["started_at"] = self._time_out(b["started_at"])
        if b["finished_at"] is not None:
            b["finished_at"] = self._time_out(b["finished_at"])
        return Build(**b)

    def start_build(
        self,
        *,
        model: str,
        inputs: str,
        commit: str,
        ref: str | None,
        actor: str,
        at: datetime,
        host: str | None,
        pid: int | None,
        event: NewEvent,
    ) -> Build:
        with self._write() as cur:
            cur.execute(self._sql(self._LOCK_MODEL), (model,))
            if cur.fetchone() is None:
                raise NotFound(f"no model named {model!r} (see `mlops model list`)")
            number = None
            for query in (
                "SELECT number FROM versions WHERE model = ? AND inputs = ?",
                "SELECT version FROM builds WHERE model = ? AND inputs = ? "
                "ORDER BY id DESC LIMIT 1",
            ):
                cur.execute(self._sql(query), (model, inputs))
                row = cur.fetchone()
                if row is not None:
                    number = int(row[0])
                    break
            if number is None:
                cur.execute(
                    self._sql(
                        "SELECT max(n) FROM (SELECT max(number) AS n FROM versions "
                        "WHERE model = ? UNION ALL SELECT max(version) FROM builds "
                        "WHERE model = ?) AS both_tables"
                    ),
                    (model, model),
                )
                number = int(cur.fetchone()[0] or 0) + 1
            cur.execute(
                self._sql(
                    "INSERT INTO builds (model, version, inputs, commit_sha, ref, status, "
                    "started_at, actor, host, pid) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?) "
                    f"RETURNING {', '.join(BUILD_COLUMNS)}"
                ),
                (model, number, inputs, commit, ref, self._time_in(at), actor, host, pid),
            )
            build = self._build(cur.fetchone())
            event.data.update(build=build.id, version=number)
            self._append(cur, event)
            return build

    def finish_build(
        self,
        build_id: int,
        *,
        status: BuildStatus,
        at: datetime,
        error: str | None = None,
        log_tail: str = "",
        image: str | None = None,
        url: str | None = None,
        version: Version | None = None,
        event: NewEvent,
    ) -> tuple[Build, Change]:
        with self._write() as cur:
            cur.execute(
                self._sql(
                    "UPDATE builds SET status = ?, finished_at = ?, error = ?, log_tail = ?, "
                    "image = COALESCE(?, image), url = COALESCE(?, url) "
                    f"WHERE id = ? AND status = 'running' RETURNING {', '.join(BUILD_COLUMNS)}"
                ),
                (str(status), self._time_in(at), error, log_tail, image, url, build_id),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(self._sql("SELECT status FROM builds WHERE id = ?"), (build_id,))
                found = cur.fetchone()
                if found is None:
                    raise NotFound(f"no build #{build_id}")
                raise Conflict(f"build #{build_id} is no longer running (it is {found[0]})")
            build = self._build(row)
            if version is not None:
                values = [
                    self._value_in(c, v)
                    for c, v in zip(
                        VERSION_COLUMNS,
                        (
                            version.model,
                            version.number,
                            version.inputs,
                            version.commit,
                            version.data_ref,
                            version.params,
                            version.image,
                            version.image_id,
                            version.created_at,
                            version.created_by,
                        ),
                        strict=True,
                    )
                ]
                marks = ", ".join("?" for _ in VERSION_COLUMNS)
                cur.execute(
                    self._sql(
                        f"INSERT INTO versions ({', '.join(VERSION_COLUMNS)}) VALUES ({marks}) "
                        "ON CONFLICT (model, number) DO UPDATE SET image = excluded.image, "
                        "image_id = excluded.image_id"
                    ),
                    values,
                )
                cur.execute(
                    self._sql(
                        "UPDATE models SET version = ?, revision = revision + 1, "
                        "updated_at = ?, updated_by = ? WHERE name = ? "
                        f"RETURNING {', '.join(MODEL_COLUMNS)}"
                    ),
                    (version.number, self._time_in(event.at), event.actor, build.model),
                )
            else:
                cur.execute(
                    self._sql(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE name = ?"),
                    (build.model,),
                )
            model = self._model(cur.fetchone())
            event.data.update(build=build.id, version=build.version, status=str(status))
            return build, Change(model, self._append(cur, event))

    def get_build(self, build_id: int) -> Build:
        with self._read() as cur:
            cur.execute(
                self._sql(f"SELECT {', '.join(BUILD_COLUMNS)} FROM builds WHERE id = ?"),
                (build_id,),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound(f"no build #{build_id}")
        return self._build(row)

    def builds(
        self,
        *,
        model: str | None = None,
        status: BuildStatus | None = None,
        limit: int | None = None,
    ) -> list[Build]:
        filters: list[tuple[str, Any]] = []
        if model is not None:
            filters.append(("model = ?", model))
        if status is not None:
            filters.append(("status = ?", str(status)))
        where, params = self._where(filters)
        query = f"SELECT {', '.join(BUILD_COLUMNS)} FROM builds{where} ORDER BY id DESC"
        if limit:
            query += " LIMIT ?"
            params.append(int(limit))
        with self._read() as cur:
            cur.execute(self._sql(query), params)
            rows = cur.fetchall()
        return [self._build(r) for r in rows]

    def versions(self, model: str) -> list[Version]:
        with self._read() as cur:
            cur.execute(
                self._sql(
                    f"SELECT {', '.join(VERSION_COLUMNS)} FROM versions WHERE model = ? "
                    "ORDER BY number DESC"
                ),
                (model,),
            )
            rows = cur.fetchall()
        return [self._version(r) for r in rows]


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def dumps(value: Any) -> str:
    import json  # not at the top: `mlops status` never writes JSON

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
