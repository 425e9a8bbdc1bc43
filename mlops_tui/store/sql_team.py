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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from mlops_tui.domain import ChecklistItem, Event, Handoff, HandoffStatus, Model, NewEvent, User
from mlops_tui.errors import AlreadyExists, Conflict, NotFound
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

    def add_user(self, user: User, event: NewEvent) -> User:
        values = [
            user.name,
            user.email,
            str(user.role),
            1 if user.active else 0,
            self.dialect.time_in(user.created_at),
            user.created_by,
            self.dialect.time_in(user.updated_at),
            user.updated_by,
        ]
        try:
            with self._write() as cur:
                cur.execute(
                    self.dialect.sql(
                        f"INSERT INTO users ({', '.join(USERS.names)}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    values,
                )
                self._append(cur, event)
        except Exception as exc:
            if self.dialect.is_unique_violation(exc):
                raise AlreadyExists(
                    f"{user.name} is already a user (see `mlops user list`)"
                ) from None
            raise
        return user

    def update_user(self, name: str, changes: Mapping[str, Any], event: NewEvent) -> User:
        """Change role, email or active, and append `event`. Raises NotFound."""
        assert set(changes) <= {"role", "email", "active"}
        values = [
            (1 if v else 0) if k == "active" else (str(v) if v is not None else None)
            for k, v in changes.items()
        ]
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    f"UPDATE users SET {sets}, updated_at = ?, updated_by = ? WHERE name = ? "
                    f"RETURNING {USERS.select()}"
                ),
                [*values, self.dialect.time_in(event.at), event.actor, name],
            )
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"no user named {name!r} (see `mlops user list`)")
            self._append(cur, event)
        return self._reader(USERS)(row)

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

    def set_setting(self, key: str, value: Any, event: NewEvent) -> None:
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO settings (key, value, updated_at, updated_by) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at, updated_by = excluded.updated_by"
                ),
                (key, json.dumps(value), self.dialect.time_in(event.at), event.actor),
            )
            self._append(cur, event)

    def database_user(self) -> str | None:
        """The database role of this connection (PostgreSQL), which no variable can spoof."""
        with self._read() as cur:
            return self.dialect.database_user(cur)

    # -- handoffs -----------------------------------------------------------------------
    @staticmethod
    def _checklist_json(items: Sequence[ChecklistItem]) -> str:
        return json.dumps([{"item": c.item, "done": c.done} for c in items], ensure_ascii=False)

    def create_handoffs(
        self, requests: Sequence[tuple[Model, str, str | None, list[str], NewEvent]]
    ) -> list[Handoff]:
        """(model as read, to whom, note, checklist, event) each; all or none, one transaction.

        Raises Conflict when a model changed owner since it was read, AlreadyExists when one
        already has a pending handoff.
        """
        out = []
        with self._write() as cur:
            # Two people may hand a model over at the same moment: its row lock makes the
            # second wait for the first to commit and then find its handoff below, instead
            # of both passing the check and one tripping the one-pending index. All locks
            # are taken before the first event, in name order, so bulk requests never
            # deadlock with each other or with a writer waiting for the audit chain.
            for name in sorted({request[0].name for request in requests}):
                cur.execute(self.dialect.lock_model, (name,))
            for model, to_user, note, checklist, event in requests:
                cur.execute(
                    self.dialect.sql("SELECT owner FROM models WHERE name = ?"), (model.name,)
                )
                row = cur.fetchone()
                if row is None:
                    raise NotFound(f"no model named {model.name!r} (see `mlops model list`)")
                if row[0] != model.owner:
                    raise Conflict(
                        f"{model.name} is now owned by {row[0]}, not {model.owner}: "
                        "nothing was written, reload and try again"
                    )
                cur.execute(
                    self.dialect.sql(
                        "SELECT id, to_user FROM handoffs WHERE model = ? AND status = 'pending'"
                    ),
                    (model.name,),
                )
                if (pending := cur.fetchone()) is not None:
                    raise AlreadyExists(
                        f"{model.name} already has a pending handoff #{pending[0]} to "
                        f"{pending[1]}: cancel it first (`mlops handoff cancel {pending[0]}`)"
                    )
                at = self.dialect.time_in(event.at)
                items = [ChecklistItem(i) for i in checklist]
                cur.execute(
                    self.dialect.sql(
                        f"INSERT INTO handoffs ({', '.join(HANDOFFS.names[1:])}) "
                        "VALUES (?, ?, ?, 'pending', ?, ?, NULL, ?, ?, ?, ?) "
                        f"RETURNING {HANDOFFS.select()}"
                    ),
                    (
                        model.name,
                        model.owner,
                        to_user,
                        self._checklist_json(items),
                        note,
                        at,
                        event.actor,
                        at,
                        event.actor,
                    ),
                )
                handoff = self._reader(HANDOFFS)(cur.fetchone())
                event = event.add(handoff=handoff.id)
                self._append(cur, event)
                out.append(handoff)
        return out

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

    def update_handoff(
        self,
        handoff: Handoff,
        *,
        status: HandoffStatus | None = None,
        checklist: Sequence[ChecklistItem] | None = None,
        reply: str | None = None,
        event: NewEvent,
        model_changes: Mapping[str, Any] | None = None,
        expected_revision: int | None = None,
    ) -> tuple[Handoff, Model | None]:
        """Tick items, or close the handoff (accept/decline/cancel), if it is still pending
        as read; on accept, change the model too (if still at `expected_revision`), all in
        one transaction with `event`. Raises Conflict when either changed meanwhile."""
        at = self.dialect.time_in(event.at)
        with self._write() as cur:
            cur.execute(
                self.dialect.sql(
                    "UPDATE handoffs SET status = ?, checklist = ?, reply = COALESCE(?, reply), "
                    "updated_at = ?, updated_by = ? "
                    "WHERE id = ? AND status = 'pending' AND checklist = ? "
                    f"RETURNING {HANDOFFS.select()}"
                ),
                (
                    str(status or HandoffStatus.PENDING),
                    self._checklist_json(checklist if checklist is not None else handoff.checklist),
                    reply,
                    at,
                    event.actor,
                    handoff.id,
                    self._checklist_json(handoff.checklist),
                ),
            )
            row = cur.fetchone()
            if row is None:
                current = self._current_handoff(cur, handoff.id)
                raise Conflict(
                    f"handoff #{handoff.id} changed since you read it (it is now "
                    f"{current.status}, by {current.updated_by}): nothing was written"
                )
            updated = self._reader(HANDOFFS)(row)
            model = None
            if model_changes:
                model = self._update_model(
                    cur,
                    handoff.model,
                    model_changes,
                    event,
                    expected_revision=expected_revision,
                )
                if model is None:
                    raise Conflict(
                        f"{handoff.model} changed since you read it: nothing was written, "
                        "reload and try again"
                    )
            self._append(cur, event)
        return updated, model

    def _current_handoff(self, cur: Any, handoff_id: int) -> Handoff:
        cur.execute(
            self.dialect.sql(f"SELECT {HANDOFFS.select()} FROM handoffs WHERE id = ?"),
            (handoff_id,),
        )
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no handoff #{handoff_id}")
        return self._reader(HANDOFFS)(row)

    # -- links (the runbook) and who looked when -----------------------------------------
    def set_link(self, model: str, kind: str, url: str | None, event: NewEvent) -> None:
        with self._write() as cur:
            cur.execute(self.dialect.sql("SELECT 1 FROM models WHERE name = ?"), (model,))
            if cur.fetchone() is None:
                raise NotFound(f"no model named {model!r} (see `mlops model list`)")
            if url is None:
                cur.execute(
                    self.dialect.sql("DELETE FROM model_links WHERE model = ? AND kind = ?"),
                    (model, kind),
                )
            else:
                cur.execute(
                    self.dialect.sql(
                        "INSERT INTO model_links (model, kind, url, updated_at, updated_by) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model, kind) DO UPDATE SET "
                        "url = excluded.url, updated_at = excluded.updated_at, "
                        "updated_by = excluded.updated_by"
                    ),
                    (model, kind, url, self.dialect.time_in(event.at), event.actor),
                )
            self._append(cur, event)

    def links(self, kind: str) -> dict[str, str]:
        """model -> url for every model with a link of this kind."""
        with self._read() as cur:
            cur.execute(
                self.dialect.sql("SELECT model, url FROM model_links WHERE kind = ?"), (kind,)
            )
            return dict(cur.fetchall())

    def record_view(self, model: str, actor: str, at: datetime) -> None:
        """Remember that `actor` looked at `model` now (not history: nothing changed)."""
        self.grants.require(actor=actor)
        with self._write() as cur:
            cur.execute("SELECT COALESCE(max(id), 0) FROM events")
            head = int(cur.fetchone()[0])
            cur.execute(
                self.dialect.sql(
                    "INSERT INTO model_views (model, actor, at, head) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (model, actor) DO UPDATE SET at = excluded.at, "
                    "head = excluded.head"
                ),
                (model, actor, self.dialect.time_in(at), head),
            )

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
