"""SQL for the registry's extras: approvals, webhooks and their outbox, clean-up.

The webhook outbox is built on the append-only events table: each webhook keeps a cursor
(`last_event`) over it, and `enqueue` turns the events past the cursor into deliveries in
the same transaction that moves the cursor, so an event is queued exactly once per webhook
whatever happens to the receiver or to the process.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mlops_tui.domain import Attempt, Delivery, Event, Webhook
from mlops_tui.errors import NotFound
from mlops_tui.store.base import Checkpoint
from mlops_tui.store.core import SqlCore
from mlops_tui.store.schema import ATTEMPTS, DELIVERIES, EVENTS, WEBHOOKS

_EVENT_SELECT = f"SELECT {EVENTS.select()} FROM events"


class RegistrySql(SqlCore):
    """Mixed into SqlStore; see mlops_tui.store.base.Store for the contract."""

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
    def webhooks(self, *, include_removed: bool = False) -> list[Webhook]:
        where = "" if include_removed else " WHERE active = 1"
        with self._read() as cur:
            cur.execute(f"SELECT {WEBHOOKS.select()} FROM webhooks{where} ORDER BY id")
            return [self._reader(WEBHOOKS)(r) for r in cur.fetchall()]

    def get_webhook(self, hook_id: int) -> Webhook:
        with self._read() as cur:
            cur.execute(
                self.dialect.sql(
                    f"SELECT {WEBHOOKS.select()} FROM webhooks WHERE id = ? AND active = 1"
                ),
                (hook_id,),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound(f"no webhook #{hook_id} (see `mlops webhook list`)")
        return self._reader(WEBHOOKS)(row)

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

    def deliveries(
        self, *, webhook: int | None = None, status: str | None = None, limit: int | None = None
    ) -> list[Delivery]:
        """Oldest event first."""
        where = {"webhook": webhook, "status": status}
        found: list[Delivery] = self._rows(DELIVERIES, where, order="event", limit=limit)
        return found
