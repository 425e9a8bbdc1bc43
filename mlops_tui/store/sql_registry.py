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

from mlops_tui.domain import Attempt, Delivery, Event, NewEvent, Webhook
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

    def add_checkpoint(self, replay: int, checkpoint: Checkpoint) -> None:
        at = None if checkpoint.max_at is None else self.dialect.time_in(checkpoint.max_at)
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO checkpoints (upto, replay, max_at, models, state) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (replay, upto) DO NOTHING"
                ),
                (checkpoint.upto, replay, at, checkpoint.models, checkpoint.state),
            )

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

    def set_approval_rule(self, scope: str, required: int, event: NewEvent) -> Event:
        with self._write() as cur:
            cur.execute(self.dialect.sql("DELETE FROM approval_rules WHERE scope = ?"), (scope,))
            if required > 0:
                cur.execute(
                    self.dialect.sql(
                        "INSERT INTO approval_rules (scope, required, updated_at, updated_by) "
                        "VALUES (?, ?, ?, ?)"
                    ),
                    (scope, required, self.dialect.time_in(event.at), event.actor),
                )
            return self._append(cur, event)

    # -- webhooks ----------------------------------------------------------------------
    def add_webhook(
        self, url: str, categories: tuple[str, ...], secret_env: str | None, event: NewEvent
    ) -> Webhook:
        """The webhook receives events from the one that records its creation onwards."""
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO webhooks (url, categories, secret_env, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING id"
                ),
                (
                    url,
                    ",".join(categories),
                    secret_env,
                    self.dialect.time_in(event.at),
                    event.actor,
                ),
            )
            (hook_id,) = cur.fetchone()
            event = event.add(webhook=int(hook_id))
            stored = self._append(cur, event)
            cur.execute(
                self.dialect.sql(
                    f"UPDATE webhooks SET last_event = ? WHERE id = ? RETURNING {WEBHOOKS.select()}"
                ),
                (stored.id, hook_id),
            )
            return self._reader(WEBHOOKS)(cur.fetchone())

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

    def remove_webhook(self, hook_id: int, event: NewEvent) -> Event:
        """Stop delivering to it; its log stays for the audit."""
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "UPDATE webhooks SET active = 0 WHERE id = ? AND active = 1 RETURNING url"
                ),
                (hook_id,),
            )
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"no webhook #{hook_id} (see `mlops webhook list`)")
            event = event.add(webhook=hook_id, url=row[0])
            return self._append(cur, event)

    def enqueue(self, hook: Webhook, at: datetime, batch: int = 1000) -> tuple[int, int]:
        """Queue the events past the webhook's cursor that it wants; returns how many events
        were read and how many were queued (call again while the first is not 0).

        The cursor row is locked first (an UPDATE), so two relays never queue twice.
        """
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "UPDATE webhooks SET last_event = last_event WHERE id = ? AND active = 1 "
                    "RETURNING last_event"
                ),
                (hook.id,),
            )
            row = cur.fetchone()
            if row is None:
                return 0, 0
            cur.execute(
                self.dialect.sql("SELECT id, kind FROM events WHERE id > ? ORDER BY id LIMIT ?"),
                (int(row[0]), batch),
            )
            events = cur.fetchall()
            if not events:
                return 0, 0
            wanted = [(int(i), k) for i, k in events if hook.wants(k)]
            if wanted:
                cur.executemany(
                    self.dialect.sql(
                        "INSERT INTO webhook_deliveries (webhook, event, kind, status, "
                        "next_attempt_at) VALUES (?, ?, ?, 'pending', ?) "
                        "ON CONFLICT (webhook, event) DO NOTHING"
                    ),
                    [(hook.id, i, k, self.dialect.time_in(at)) for i, k in wanted],
                )
            cur.execute(
                self.dialect.sql("UPDATE webhooks SET last_event = ? WHERE id = ?"),
                (int(events[-1][0]), hook.id),
            )
            return len(events), len(wanted)

    def claim_webhook(self, hook_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take the webhook's delivery lease: one relay at a time keeps its events in order."""
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "UPDATE webhooks SET lease_until = ?, lease_owner = ? WHERE id = ? "
                    "AND active = 1 AND (lease_until IS NULL OR lease_until < ? "
                    "OR lease_owner = ?) RETURNING id"
                ),
                (self.dialect.time_in(until), owner, hook_id, self.dialect.time_in(now), owner),
            )
            return cur.fetchone() is not None

    def release_webhook(self, hook_id: int, owner: str) -> None:
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "UPDATE webhooks SET lease_until = NULL, lease_owner = NULL "
                    "WHERE id = ? AND lease_owner = ?"
                ),
                (hook_id, owner),
            )

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

    def record_attempt(
        self,
        *,
        webhook: int,
        event: int | None,
        kind: str,
        at: datetime,
        ok: bool,
        code: int | None,
        error: str | None,
        seconds: float,
        delivery: int | None = None,
        next_attempt_at: datetime | None = None,
    ) -> Attempt:
        """Log one try and, for a queued delivery, its new state: one transaction."""
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO webhook_attempts (webhook, event, kind, at, ok, code, error, "
                    "seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    f"RETURNING {ATTEMPTS.select()}"
                ),
                (webhook, event, kind, self.dialect.time_in(at), int(ok), code, error, seconds),
            )
            attempt: Attempt = self._reader(ATTEMPTS)(cur.fetchone())
            if delivery is not None:
                cur.execute(
                    self.dialect.sql(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, "
                        "last_error = ?, next_attempt_at = ?, delivered_at = ? WHERE id = ?"
                    ),
                    (
                        "delivered" if ok else "pending",
                        error,
                        None
                        if ok or next_attempt_at is None
                        else self.dialect.time_in(next_attempt_at),
                        self.dialect.time_in(at) if ok else None,
                        delivery,
                    ),
                )
            return attempt

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
