"""The reads both backends share, and the whole-state transfer. A listing of records is
`rows` (store.core); what is here reads more than one table, reads by hand for speed, or
returns something other than records.

Queries are written once with `?` placeholders, which the dialect rewrites. Timestamps are
aware UTC datetimes on the Python side in both backends.

The audit chain lives in two columns of `events` (prev_hash, hash) and in a one-row table,
`audit_anchor`: the id and hash of the last event the tool appended and how many it has
appended, moved in the same transaction as each append. A new event links to the anchor, not
to whatever the newest row happens to be, so deleting the newest events stays visible
whatever is appended afterwards. Appends are serialised (SQLite's BEGIN IMMEDIATE already
does it; PostgreSQL takes a transaction-scoped advisory lock), so the chain stays one line
whatever the number of writers.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from mlops_tui.domain import Attempt, Delivery, Event, Model, Stage, User
from mlops_tui.errors import InvalidInput, no_such
from mlops_tui.store import migrations
from mlops_tui.store.base import Checkpoint, ExposedRow, StatusRow
from mlops_tui.store.core import SqlCore
from mlops_tui.store.dialect import Anchor
from mlops_tui.store.schema import ATTEMPTS, DELIVERIES, EVENTS, EXPORTED, MODELS, MONITORING, USERS

_EVENT_SELECT = f"SELECT {EVENTS.select()} FROM events"

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


class SqlStore(SqlCore):
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
            raise no_such("model", name, self.model_names(), cli="see `mlops model list`")
        return self._model(row)

    def model_names(self) -> list[str]:
        with self._read() as cur:
            cur.execute("SELECT name FROM models ORDER BY name")
            return [row[0] for row in cur.fetchall()]

    def list_models(self, *, stage: Stage | None = None, owner: str | None = None) -> list[Model]:
        return self._rows(MODELS, {"stage": stage, "owner": owner}, order="name")

    def status_rows(
        self, *, stage: Stage | None = None, owner: str | None = None
    ) -> list[StatusRow]:
        # By hand, not `rows`: the one read `mlops status` makes, and its budget is tight.
        where, params = self._status_where(stage, owner)
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(f"SELECT {STATUS_COLUMNS} FROM models{where} ORDER BY name"),
                params,
            )
            rows = cur.fetchall()
        t = self.dialect.time_out
        return [StatusRow(r[0], r[1], r[2], r[3], r[4], r[5], t(r[6]), r[7]) for r in rows]

    @staticmethod
    def _status_where(stage: Stage | None, owner: str | None) -> tuple[str, list[str]]:
        clauses = [c for c, v in (("stage = ?", stage), ("owner = ?", owner)) if v is not None]
        params = [str(v) for v in (stage, owner) if v is not None]
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

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
                v = row.get(c.name, c.default)
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

    # -- checks ------------------------------------------------------------------------
    def stale_models(self, now: datetime) -> set[str]:
        """Production models whose last successful check is older than their max_age (or
        that never had one within max_age of their deployment)."""
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(
                    "SELECT mon.model FROM monitoring mon JOIN models ON models.name = mon.model "
                    "WHERE mon.stale_at <= ? AND models.production_version IS NOT NULL"
                ),
                (self.dialect.time_in(now),),
            )
            return {r[0] for r in cur.fetchall()}

    def monitoring(self, model: str) -> dict[str, datetime | None] | None:
        """The model's monitoring clock: stale_at, last_ok_at, last_check_at; or None."""
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(f"SELECT {MONITORING.select()} FROM monitoring WHERE model = ?"),
                (model,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return {c: self._opt_time(v) for c, v in zip(MONITORING.names[1:], row[1:], strict=True)}

    # -- the audit chain ---------------------------------------------------------------
    def _anchor_in(self, cur: Any) -> Anchor:
        cur.execute("SELECT event, hash, events FROM audit_anchor WHERE id = 1")
        row = cur.fetchone()
        return None if row is None else (int(row[0]), str(row[1]), int(row[2]))

    @contextmanager
    def chain_snapshot(
        self, batch: int = 5000
    ) -> Iterator[tuple[Anchor, int | None, Iterator[tuple[Any, ...]]]]:
        with self._stream() as cur:
            self.dialect.one_snapshot(cur)
            anchor = self._anchor_in(cur)
            sequence = self.dialect.id_high_water(cur)
            yield anchor, sequence, self._chain_rows(cur, batch)

    def _chain_rows(self, cur: Any, batch: int) -> Iterator[tuple[Any, ...]]:
        cur.execute(f"SELECT {', '.join(EVENTS.names)} FROM events ORDER BY id")
        while rows := cur.fetchmany(batch):
            for id_, at, actor, model, kind, data, prev, digest in rows:
                yield (
                    int(id_),
                    self.dialect.time_out(at),
                    actor,
                    model,
                    kind,
                    self.dialect.json_out(data),
                    prev,
                    digest,
                )

    def chain(self, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Every event with its stored hashes, oldest first:
        (id, at, actor, model, kind, data, prev_hash, hash)."""
        with self.chain_snapshot(batch) as (_, _, rows):
            yield from rows

    def chain_head(self) -> tuple[Anchor, tuple[int, datetime, str | None] | None]:
        """The anchor and the newest event's (id, at, hash), read at one moment: what
        `mlops audit head` prints once it has checked that they agree."""
        with self._read() as cur:
            self.dialect.one_snapshot(cur)
            anchor = self._anchor_in(cur)
            cur.execute("SELECT id, at, hash FROM events ORDER BY id DESC LIMIT 1")
            row = cur.fetchone()
        return anchor, None if row is None else (int(row[0]), self.dialect.time_out(row[1]), row[2])

    # -- people --------------------------------------------------------------------------
    def get_user(self, name: str) -> User | None:
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(f"SELECT {USERS.select()} FROM users WHERE name = ?"), (name,)
            )
            row = cur.fetchone()
        return self._reader(USERS)(row) if row else None

    def inactive_users(self) -> set[str]:
        """Who left: their models are orphaned. One cheap query for `mlops status`."""
        with self._read() as cur:
            cur.execute("SELECT name FROM users WHERE active = 0")
            return {r[0] for r in cur.fetchall()}

    def count_admins(self) -> int:
        with self._read() as cur:
            cur.execute(
                "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1 AND bot = 0"
            )
            return int(cur.fetchone()[0])

    # -- shared settings ----------------------------------------------------------------
    def get_setting(self, key: str) -> Any:
        """The setting's value (decoded JSON), or None when it was never set."""
        with self._read() as cur:
            cur.execute(self.dialect.sql("SELECT value FROM settings WHERE key = ?"), (key,))
            row = cur.fetchone()
        return json.loads(row[0]) if row else None

    def settings(self) -> dict[str, tuple[Any, datetime, str]]:
        """key -> (value, when set, by whom)."""
        with self._read() as cur:
            cur.execute("SELECT key, value, updated_at, updated_by FROM settings ORDER BY key")
            rows = cur.fetchall()
        return {k: (json.loads(v), self.dialect.time_out(at), by) for k, v, at, by in rows}

    def database_user(self) -> str | None:
        """The database role of this connection (PostgreSQL), which no variable can spoof."""
        with self._read() as cur:
            return self.dialect.database_user(cur)

    # -- links (the runbook) and who looked when -----------------------------------------
    def links(self, kind: str) -> dict[str, str]:
        """model -> url for every model with a link of this kind."""
        with self._read() as cur:
            cur.execute(
                self.dialect.sql("SELECT model, url FROM model_links WHERE kind = ?"), (kind,)
            )
            return dict(cur.fetchall())

    def last_view(self, model: str, actor: str) -> tuple[datetime, int] | None:
        with self._read() as cur:
            cur.execute(
                self.dialect.sql("SELECT at, head FROM model_views WHERE model = ? AND actor = ?"),
                (model, actor),
            )
            row = cur.fetchone()
        return (self.dialect.time_out(row[0]), int(row[1])) if row else None

    # -- events for replay -------------------------------------------------------------
    def replay_events(
        self,
        *,
        model: str | None = None,
        until: datetime | None = None,
        upto: int | None = None,
        kinds: Iterable[str] | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[Event]:
        filters: list[str] = ["id > ?"]
        params: list[Any] = [after]
        if model is not None:
            filters.append("model = ?")
            params.append(model)
        if until is not None:
            filters.append("at <= ?")
            params.append(self.dialect.time_in(until))
        if upto is not None:
            filters.append("id <= ?")
            params.append(upto)
        if kinds is not None:
            kinds = list(kinds)
            filters.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            params.extend(kinds)
        query = f"{_EVENT_SELECT} WHERE {' AND '.join(filters)} ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._read() as cur:
            cur.execute(self.dialect.sql(query), params)
            rows = cur.fetchall()
        return [self._event(r) for r in rows]

    def checkpoint(self, replay: int, until: datetime | None = None) -> Checkpoint | None:
        query = "WHERE replay = ?"
        params: list[Any] = [replay]
        if until is not None:  # max_at never falls as upto rises: the newest that fits
            query += " AND (max_at IS NULL OR max_at <= ?)"
            params.append(self.dialect.time_in(until))
        found = self._checkpoints(query + " ORDER BY upto DESC LIMIT 1", params)
        return found[0] if found else None

    def checkpoints(self, replay: int) -> list[Checkpoint]:
        return self._checkpoints("WHERE replay = ? ORDER BY upto", [replay])

    def _checkpoints(self, where: str, params: list[Any]) -> list[Checkpoint]:
        query = f"SELECT upto, max_at, models, state FROM checkpoints {where}"
        with self._read() as cur:
            cur.execute(self.dialect.sql(query), params)
            rows = cur.fetchall()
        return [Checkpoint(int(u), self._opt_time(at), int(n), bytes(s)) for u, at, n, s in rows]

    def checkpoint_lag(self, replay: int) -> tuple[int, int, int]:
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(
                    "SELECT (SELECT COALESCE(max(id), 0) FROM events), upto, models "
                    "FROM (SELECT 1 AS one) AS here LEFT JOIN (SELECT upto, models "
                    "FROM checkpoints WHERE replay = ? ORDER BY upto DESC LIMIT 1) AS newest "
                    "ON TRUE"
                ),
                (replay,),
            )
            head, upto, models = cur.fetchone()
        return int(head), int(upto or 0), int(models or 0)

    def events_by_id(self, ids: Iterable[int]) -> dict[int, Event]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(f"{_EVENT_SELECT} WHERE id IN ({', '.join('?' for _ in ids)})"),
                ids,
            )
            return {int(r[0]): self._event(r) for r in cur.fetchall()}

    def _in(self, models: Collection[str] | None, column: str = "model") -> tuple[str, list[str]]:
        """` AND column IN (…)` for these models, or nothing for every model."""
        if models is None:
            return "", []
        names = sorted(models)
        return f" AND {column} IN ({', '.join('?' for _ in names) or 'NULL'})", names

    def exposed_rows(self, models: Collection[str] | None = None) -> list[ExposedRow]:
        where, params = self._in(models, "name")
        query = f"SELECT {', '.join(ExposedRow._fields)} FROM models WHERE 1 = 1{where}"
        with self._read() as cur:
            cur.execute(self.dialect.sql(query + " ORDER BY name"), params)
            return [ExposedRow(*r) for r in cur.fetchall()]

    def last_ok_checks(self, models: Collection[str] | None = None) -> dict[str, datetime]:
        where, params = self._in(models)
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(
                    f"SELECT model, last_ok_at FROM monitoring WHERE last_ok_at IS NOT NULL{where}"
                ),
                params,
            )
            return {m: self.dialect.time_out(at) for m, at in cur.fetchall()}

    def checked_since(self, mark: datetime | None) -> tuple[set[str], datetime | None]:
        with self._read() as cur:
            if mark is None:
                cur.execute("SELECT model, last_check_at FROM monitoring")
            else:
                cur.execute(
                    self.dialect.sql(
                        "SELECT model, last_check_at FROM monitoring WHERE last_check_at > ?"
                    ),
                    (self.dialect.time_in(mark),),
                )
            rows = [(m, self.dialect.time_out(at)) for m, at in cur.fetchall() if at is not None]
        newest = max((at for _, at in rows), default=mark)
        return {m for m, _ in rows}, newest

    def last_deploys(self, models: Collection[str] | None = None) -> dict[str, datetime]:
        where, params = self._in(models)
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(
                    "SELECT model, max(finished_at) FROM deployments "
                    f"WHERE status = 'succeeded'{where} GROUP BY model"
                ),
                params,
            )
            return {m: self.dialect.time_out(at) for m, at in cur.fetchall() if at is not None}

    def last_answered_checks(self, until: datetime) -> dict[str, datetime]:
        """Each model's newest check that got an answer, at or before `until` (the
        checks table): with the deploy time, what staleness was counted from then."""
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(
                    "SELECT model, max(at) FROM checks WHERE ok = 1 AND at <= ? GROUP BY model"
                ),
                (self.dialect.time_in(until),),
            )
            return {m: self.dialect.time_out(at) for m, at in cur.fetchall()}

    # -- approval rules ----------------------------------------------------------------
    def approval_rules(self) -> dict[str, int]:
        with self._read() as cur:
            cur.execute("SELECT scope, required FROM approval_rules")
            return {scope: int(n) for scope, n in cur.fetchall()}

    # -- webhooks ----------------------------------------------------------------------
    def next_delivery(self, hook_id: int) -> tuple[Delivery, Event] | None:
        """The oldest undelivered event of the webhook: later ones wait behind it (order)."""
        columns = DELIVERIES.select("d")
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(
                    f"SELECT {columns}, {EVENTS.select('e')} "
                    "FROM webhook_deliveries d JOIN events e ON e.id = d.event "
                    "WHERE d.webhook = ? AND d.status = 'pending' ORDER BY d.event LIMIT 1"
                ),
                (hook_id,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        n = len(DELIVERIES.record_columns)
        return self._reader(DELIVERIES)(row[:n]), self._event(row[n:])

    def attempts(
        self, *, webhook: int | None = None, model: str | None = None, limit: int | None = 50
    ) -> list[Attempt]:
        """Newest first."""
        filters: list[str] = []
        params: list[Any] = []
        if webhook is not None:
            filters.append("a.webhook = ?")
            params.append(webhook)
        if model is not None:
            filters.append("e.model = ?")
            params.append(model)
        where = f" WHERE {' AND '.join(filters)}" if filters else ""
        columns = ATTEMPTS.select("a")
        query = (
            f"SELECT {columns}, e.model FROM webhook_attempts a "
            f"LEFT JOIN events e ON e.id = a.event{where} ORDER BY a.id DESC"
        )
        if limit:
            query += " LIMIT ?"
            params.append(limit)
        with self._read() as cur:
            cur.execute(self.dialect.sql(query), params)
            read = self._reader(ATTEMPTS)
            return [read(r) for r in cur.fetchall()]
