"""SQL for the team: people, handoffs, shared settings and the audit chain.

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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from mlops_tui.domain import Event, Handoff, HandoffStatus, User
from mlops_tui.errors import NotFound
from mlops_tui.store.core import SqlCore
from mlops_tui.store.dialect import Anchor
from mlops_tui.store.schema import EVENTS, HANDOFFS, USERS


class TeamSql(SqlCore):
    """Mixed into SqlStore; see mlops_tui.store.base.Store for the contract."""

    # -- the audit chain ---------------------------------------------------------------
    def _anchor_in(self, cur: Any) -> Anchor:
        cur.execute("SELECT event, hash, events FROM audit_anchor WHERE id = 1")
        row = cur.fetchone()
        return None if row is None else (int(row[0]), str(row[1]), int(row[2]))

    @contextmanager
    def chain_snapshot(
        self, batch: int = 5000
    ) -> Iterator[tuple[Anchor, int | None, Iterator[tuple[Any, ...]]]]:
        """What `mlops audit verify` compares, read at one moment: the anchor; the highest
        event id SQLite ever handed out (its AUTOINCREMENT counter, a second witness of
        deleted newest events; None on PostgreSQL, whose sequence also moves on a rolled-back
        append and so proves nothing); and the events as `chain` yields them. The rows can
        only be read inside the block."""
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

    def list_users(self) -> list[User]:
        users: list[User] = self._rows(USERS, order="name")
        return users

    def inactive_users(self) -> set[str]:
        """Who left: their models are orphaned. One cheap query for `mlops status`."""
        with self._read() as cur:
            cur.execute("SELECT name FROM users WHERE active = 0")
            return {r[0] for r in cur.fetchall()}

    def count_admins(self) -> int:
        with self._read() as cur:
            cur.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1")
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

    # -- handoffs -----------------------------------------------------------------------
    def get_handoff(self, handoff_id: int) -> Handoff:
        found: list[Handoff] = self._rows(HANDOFFS, {"id": handoff_id})
        if not found:
            raise NotFound(f"no handoff #{handoff_id} (see `mlops handoff list`)")
        return found[0]

    def list_handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        to_user: str | None = None,
        involving: str | None = None,
        model: str | None = None,
    ) -> list[Handoff]:
        either = [] if involving is None else [("? IN (to_user, from_user)", involving)]
        where = {"status": status, "to_user": to_user, "model": model}
        handoffs: list[Handoff] = self._rows(HANDOFFS, where, conditions=either, order="id")
        return handoffs

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

    def events_after(self, model: str, after_id: int, limit: int = 200) -> list[Event]:
        """The model's events with an id above `after_id`, newest first."""
        later = [("id > ?", after_id)]
        events: list[Event] = self._rows(EVENTS, {"model": model}, conditions=later, limit=limit)
        return events
