"""SQL for the team (issue 6): people, handoffs, shared settings and the audit chain.

A mixin of SqlStore: it uses the dialect hooks (_read, _write, _sql, _time_in/out,
_json_in/out, _append) that SqlStore defines, so both backends get it for free.

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

from mlops_tui.domain import (
    CHAIN_GENESIS,
    AlreadyExists,
    ChecklistItem,
    Conflict,
    Handoff,
    HandoffStatus,
    Model,
    NewEvent,
    NotFound,
    User,
    UserRole,
    chain_hash,
)

USER_COLUMNS = (
    "name",
    "email",
    "role",
    "active",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)
SETTING_COLUMNS = ("key", "value", "updated_at", "updated_by")
HANDOFF_COLUMNS = (
    "id",
    "model",
    "from_user",
    "to_user",
    "status",
    "checklist",
    "note",
    "reply",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)
LINK_COLUMNS = ("model", "kind", "url", "updated_at", "updated_by")
CHAIN_COLUMNS = ("id", "at", "actor", "model", "kind", "data", "prev_hash", "hash")
# What export and import carry (before the events, after the models they refer to).
TEAM_TABLES = (
    ("user", "users", USER_COLUMNS, "name"),
    ("setting", "settings", SETTING_COLUMNS, "key"),
    ("handoff", "handoffs", HANDOFF_COLUMNS, "id"),
    ("link", "model_links", LINK_COLUMNS, "model, kind"),
)
# PostgreSQL advisory lock: one appender at a time per schema. The second key is the schema's
# hash, so teams (or test runs) sharing one database in separate schemas never wait on each
# other's chains.
_CHAIN_LOCK = 0x6D6C6F70 + 6
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(COALESCE(current_schema(), '')))"
# The previous hash and the next id, from the anchor (the newest row only when the anchor row
# is gone). The id is past every id the history has held: max(id) for rows written behind the
# tool's back, the anchor for deleted newest rows, the sequence for rolled-back appends.
_PG_NEXT = (
    "SELECT COALESCE((SELECT hash FROM audit_anchor WHERE id = 1), "
    "(SELECT hash FROM events ORDER BY id DESC LIMIT 1)), "
    "GREATEST(COALESCE((SELECT max(id) FROM events), 0) + 1, "
    "COALESCE((SELECT event FROM audit_anchor WHERE id = 1), 0) + 1, "
    "nextval(pg_get_serial_sequence('events', 'id')))"
)
_SQLITE_NEXT = (
    "SELECT COALESCE((SELECT hash FROM audit_anchor WHERE id = 1), "
    "(SELECT hash FROM events ORDER BY id DESC LIMIT 1)), max("
    "COALESCE((SELECT max(id) FROM events), 0), "
    "COALESCE((SELECT event FROM audit_anchor WHERE id = 1), 0), "
    "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)) + 1"
)
_INSERT_EVENT = (
    "INSERT INTO events (id, at, actor, model, kind, data, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_MOVE_ANCHOR = "UPDATE audit_anchor SET event = ?, hash = ?, events = events + 1 WHERE id = 1"
# PostgreSQL runs a data-modifying WITH once whether or not the query reads it.
_PG_APPEND = f"WITH appended AS ({_INSERT_EVENT}) {_MOVE_ANCHOR}".replace("?", "%s")
#: (event id, hash, events appended) of the anchor, or None when its row was deleted
Anchor = tuple[int, str, int] | None
_SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
    """,
    """
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END
    """,
)


class TeamSql:
    """Mixed into SqlStore; see mlops_tui.store.base.Store for the contract."""

    # Provided by SqlStore and the dialects.
    backend: str
    _read: Any
    _write: Any
    _stream: Any
    _sql: Any
    _time_in: Any
    _time_out: Any
    _json_out: Any
    _append: Any
    _model: Any
    _is_unique_violation: Any
    _LOCK_MODEL: str

    # -- the audit chain ---------------------------------------------------------------
    def _chain_next(self, cur: Any, event: NewEvent) -> tuple[int, str, str]:
        """The id, previous hash and hash of the event about to be appended.

        Called by SqlStore._append inside the change's transaction. Also makes a person who
        joins with this change (the service marked the event `joined`) a user, in the same
        transaction; if someone else added them meanwhile, the mark is dropped.
        """
        if event.data.get("joined"):
            cur.execute(
                self._sql(
                    f"INSERT INTO users ({', '.join(USER_COLUMNS)}) "
                    "VALUES (?, NULL, ?, 1, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING"
                ),
                (
                    event.actor,
                    str(event.data["joined"]),
                    self._time_in(event.at),
                    event.actor,
                    self._time_in(event.at),
                    event.actor,
                ),
            )
            if cur.rowcount == 0:
                del event.data["joined"]
        if self.backend == "postgresql":
            # Two statements (psycopg prepares each after a few runs; one multi-statement
            # string would be planned anew every time), so the read's snapshot is taken once
            # the lock is held: it sees the appender before us, whose commit precedes unlock.
            cur.execute(SCHEMA_LOCK, (_CHAIN_LOCK,))
            cur.execute(_PG_NEXT)
            prev, next_id = cur.fetchone()
        else:
            cur.execute(_SQLITE_NEXT)
            prev, next_id = cur.fetchone()
        prev = prev or CHAIN_GENESIS
        digest = chain_hash(
            prev, next_id, event.at, event.actor, event.model, event.kind, event.data
        )
        return int(next_id), prev, digest

    def _backfill_chain(self, cur: Any) -> None:
        """Migration step 4: hash the history written before the chain existed, in id order,
        with the append-only triggers lifted for the length of this transaction."""
        if self.backend == "postgresql":
            cur.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        else:
            cur.execute("DROP TRIGGER events_no_update")
            cur.execute("DROP TRIGGER events_no_delete")
        cur.execute("SELECT id, at, actor, model, kind, data FROM events ORDER BY id")
        rows = cur.fetchall()
        prev = CHAIN_GENESIS
        updates = []
        for id_, at, actor, model, kind, data in rows:
            digest = chain_hash(
                prev, int(id_), self._time_out(at), actor, model, kind, self._json_out(data)
            )
            updates.append((prev, digest, id_))
            prev = digest
        if updates:
            cur.executemany(
                self._sql("UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?"), updates
            )
        if self.backend == "postgresql":
            cur.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
        else:
            for statement in _SQLITE_TRIGGERS:
                cur.execute(statement)

    def _chain_append(self, cur: Any, row: tuple[Any, ...]) -> None:
        """Insert the event (id, at, actor, model, kind, data, prev_hash, hash) and move the
        anchor to it, in the append's transaction: a rollback takes both back. On PostgreSQL
        one statement, so the anchor costs no round trip while the chain's lock is held. No
        anchor row (deleted behind the tool's back) stays no row, for verify to see."""
        event_id, digest = row[0], row[-1]
        if self.backend == "postgresql":
            cur.execute(_PG_APPEND, (*row, event_id, digest))
        else:
            cur.execute(_INSERT_EVENT, row)
            cur.execute(_MOVE_ANCHOR, (event_id, digest))

    def _anchor_chain(self, cur: Any) -> None:
        """Migration step 6, and an import: anchor the chain at the newest event already
        there (the anchor's trigger lets it leave event 0 once, for exactly this)."""
        cur.execute("SELECT id, hash FROM events WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1")
        row = cur.fetchone()
        if row is None:
            return
        cur.execute("SELECT count(*) FROM events")
        count = int(cur.fetchone()[0])
        cur.execute(
            self._sql("UPDATE audit_anchor SET event = ?, hash = ?, events = ? WHERE id = 1"),
            (int(row[0]), row[1], count),
        )

    def _one_snapshot(self, cur: Any) -> None:
        """Make every read of this transaction see the same moment, so an append committed
        between two of them cannot look like a deletion. SQLite's read transactions already
        do; PostgreSQL's default takes a new snapshot for each statement."""
        if self.backend == "postgresql":
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

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
            self._one_snapshot(cur)
            anchor = self._anchor_in(cur)
            sequence = None
            if self.backend == "sqlite":
                cur.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
                found = cur.fetchone()
                sequence = int(found[0]) if found else 0
            yield anchor, sequence, self._chain_rows(cur, batch)

    def _chain_rows(self, cur: Any, batch: int) -> Iterator[tuple[Any, ...]]:
        cur.execute(f"SELECT {', '.join(CHAIN_COLUMNS)} FROM events ORDER BY id")
        while rows := cur.fetchmany(batch):
            for id_, at, actor, model, kind, data, prev, digest in rows:
                yield (
                    int(id_),
                    self._time_out(at),
                    actor,
                    model,
                    kind,
                    self._json_out(data),
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
            self._one_snapshot(cur)
            anchor = self._anchor_in(cur)
            cur.execute("SELECT id, at, hash FROM events ORDER BY id DESC LIMIT 1")
            row = cur.fetchone()
        return anchor, None if row is None else (int(row[0]), self._time_out(row[1]), row[2])

    # -- people --------------------------------------------------------------------------
    def _user(self, row: Sequence[Any]) -> User:
        v = dict(zip(USER_COLUMNS, row, strict=True))
        v["role"] = UserRole(v["role"])
        v["active"] = bool(v["active"])
        v["created_at"] = self._time_out(v["created_at"])
        v["updated_at"] = self._time_out(v["updated_at"])
        return User(**v)

    def get_user(self, name: str) -> User | None:
        with self._read() as cur:
            cur.execute(
                self._sql(f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE name = ?"), (name,)
            )
            row = cur.fetchone()
        return self._user(row) if row else None

    def list_users(self) -> list[User]:
        with self._read() as cur:
            cur.execute(f"SELECT {', '.join(USER_COLUMNS)} FROM users ORDER BY name")
            rows = cur.fetchall()
        return [self._user(r) for r in rows]

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
            self._time_in(user.created_at),
            user.created_by,
            self._time_in(user.updated_at),
            user.updated_by,
        ]
        try:
            with self._write() as cur:
                cur.execute(
                    self._sql(
                        f"INSERT INTO users ({', '.join(USER_COLUMNS)}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    values,
                )
                self._append(cur, event)
        except Exception as exc:
            if self._is_unique_violation(exc):
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
                self._sql(
                    f"UPDATE users SET {sets}, updated_at = ?, updated_by = ? WHERE name = ? "
                    f"RETURNING {', '.join(USER_COLUMNS)}"
                ),
                [*values, self._time_in(event.at), event.actor, name],
            )
            row = cur.fetchone()
            if row is None:
                raise NotFound(f"no user named {name!r} (see `mlops user list`)")
            self._append(cur, event)
        return self._user(row)

    def count_admins(self) -> int:
        with self._read() as cur:
            cur.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1")
            return int(cur.fetchone()[0])

    # -- shared settings ----------------------------------------------------------------
    def get_setting(self, key: str) -> Any:
        """The setting's value (decoded JSON), or None when it was never set."""
        with self._read() as cur:
            cur.execute(self._sql("SELECT value FROM settings WHERE key = ?"), (key,))
            row = cur.fetchone()
        return json.loads(row[0]) if row else None

    def settings(self) -> dict[str, tuple[Any, datetime, str]]:
        """key -> (value, when set, by whom)."""
        with self._read() as cur:
            cur.execute("SELECT key, value, updated_at, updated_by FROM settings ORDER BY key")
            rows = cur.fetchall()
        return {k: (json.loads(v), self._time_out(at), by) for k, v, at, by in rows}

    def set_setting(self, key: str, value: Any, event: NewEvent) -> None:
        with self._write() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO settings (key, value, updated_at, updated_by) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at, updated_by = excluded.updated_by"
                ),
                (key, json.dumps(value), self._time_in(event.at), event.actor),
            )
            self._append(cur, event)

    def database_user(self) -> str | None:
        """The database role of this connection (PostgreSQL), which no variable can spoof."""
        if self.backend != "postgresql":
            return None
        with self._read() as cur:
            cur.execute("SELECT current_user")
            return str(cur.fetchone()[0])

    # -- handoffs -----------------------------------------------------------------------
    def _handoff(self, row: Sequence[Any]) -> Handoff:
        v = dict(zip(HANDOFF_COLUMNS, row, strict=True))
        v["id"] = int(v["id"])
        v["status"] = HandoffStatus(v["status"])
        v["checklist"] = tuple(
            ChecklistItem(c["item"], bool(c["done"])) for c in json.loads(v["checklist"])
        )
        v["created_at"] = self._time_out(v["created_at"])
        v["updated_at"] = self._time_out(v["updated_at"])
        return Handoff(**v)

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
                cur.execute(self._sql(self._LOCK_MODEL), (name,))
            for model, to_user, note, checklist, event in requests:
                cur.execute(self._sql("SELECT owner FROM models WHERE name = ?"), (model.name,))
                row = cur.fetchone()
                if row is None:
                    raise NotFound(f"no model named {model.name!r} (see `mlops model list`)")
                if row[0] != model.owner:
                    raise Conflict(
                        f"{model.name} is now owned by {row[0]}, not {model.owner}: "
                        "nothing was written, reload and try again"
                    )
                cur.execute(
                    self._sql(
                        "SELECT id, to_user FROM handoffs WHERE model = ? AND status = 'pending'"
                    ),
                    (model.name,),
                )
                if (pending := cur.fetchone()) is not None:
                    raise AlreadyExists(
                        f"{model.name} already has a pending handoff #{pending[0]} to "
                        f"{pending[1]}: cancel it first (`mlops handoff cancel {pending[0]}`)"
                    )
                at = self._time_in(event.at)
                items = [ChecklistItem(i) for i in checklist]
                cur.execute(
                    self._sql(
                        f"INSERT INTO handoffs ({', '.join(HANDOFF_COLUMNS[1:])}) "
                        "VALUES (?, ?, ?, 'pending', ?, ?, NULL, ?, ?, ?, ?) "
                        f"RETURNING {', '.join(HANDOFF_COLUMNS)}"
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
                handoff = self._handoff(cur.fetchone())
                event.data["handoff"] = handoff.id
                self._append(cur, event)
                out.append(handoff)
        return out

    def get_handoff(self, handoff_id: int) -> Handoff:
        with self._read() as cur:
            cur.execute(
                self._sql(f"SELECT {', '.join(HANDOFF_COLUMNS)} FROM handoffs WHERE id = ?"),
                (handoff_id,),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound(f"no handoff #{handoff_id} (see `mlops handoff list`)")
        return self._handoff(row)

    def list_handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        to_user: str | None = None,
        involving: str | None = None,
        model: str | None = None,
    ) -> list[Handoff]:
        filters: list[tuple[str, Any]] = []
        if status is not None:
            filters.append(("status = ?", str(status)))
        if to_user is not None:
            filters.append(("to_user = ?", to_user))
        if involving is not None:
            filters.append(("(to_user = ? OR from_user = ?)", None))
        if model is not None:
            filters.append(("model = ?", model))
        params: list[Any] = []
        for _clause, value in filters:
            if value is None:
                params += [involving, involving]
            else:
                params.append(value)
        where = " WHERE " + " AND ".join(c for c, _ in filters) if filters else ""
        with self._read() as cur:
            cur.execute(
                self._sql(f"SELECT {', '.join(HANDOFF_COLUMNS)} FROM handoffs{where} ORDER BY id"),
                params,
            )
            rows = cur.fetchall()
        return [self._handoff(r) for r in rows]

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
        at = self._time_in(event.at)
        with self._write() as cur:
            cur.execute(
                self._sql(
                    "UPDATE handoffs SET status = ?, checklist = ?, reply = COALESCE(?, reply), "
                    "updated_at = ?, updated_by = ? "
                    "WHERE id = ? AND status = 'pending' AND checklist = ? "
                    f"RETURNING {', '.join(HANDOFF_COLUMNS)}"
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
            updated = self._handoff(row)
            model = None
            if model_changes:
                from mlops_tui.store import sql  # not at the top: sql.py imports this module

                sets = ", ".join(f"{c} = ?" for c in model_changes)
                cur.execute(
                    self._sql(
                        f"UPDATE models SET {sets}, revision = revision + 1, updated_at = ?, "
                        "updated_by = ? WHERE name = ? AND revision = ? "
                        "RETURNING " + ", ".join(sql.MODEL_COLUMNS)
                    ),
                    [*model_changes.values(), at, event.actor, handoff.model, expected_revision],
                )
                mrow = cur.fetchone()
                if mrow is None:
                    raise Conflict(
                        f"{handoff.model} changed since you read it: nothing was written, "
                        "reload and try again"
                    )
                model = self._model(mrow)
            self._append(cur, event)
        return updated, model

    def _current_handoff(self, cur: Any, handoff_id: int) -> Handoff:
        cur.execute(
            self._sql(f"SELECT {', '.join(HANDOFF_COLUMNS)} FROM handoffs WHERE id = ?"),
            (handoff_id,),
        )
        row = cur.fetchone()
        if row is None:
            raise NotFound(f"no handoff #{handoff_id}")
        return self._handoff(row)

    # -- links (the runbook) and who looked when -----------------------------------------
    def set_link(self, model: str, kind: str, url: str | None, event: NewEvent) -> None:
        with self._write() as cur:
            cur.execute(self._sql("SELECT 1 FROM models WHERE name = ?"), (model,))
            if cur.fetchone() is None:
                raise NotFound(f"no model named {model!r} (see `mlops model list`)")
            if url is None:
                cur.execute(
                    self._sql("DELETE FROM model_links WHERE model = ? AND kind = ?"),
                    (model, kind),
                )
            else:
                cur.execute(
                    self._sql(
                        "INSERT INTO model_links (model, kind, url, updated_at, updated_by) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model, kind) DO UPDATE SET "
                        "url = excluded.url, updated_at = excluded.updated_at, "
                        "updated_by = excluded.updated_by"
                    ),
                    (model, kind, url, self._time_in(event.at), event.actor),
                )
            self._append(cur, event)

    def links(self, kind: str) -> dict[str, str]:
        """model -> url for every model with a link of this kind."""
        with self._read() as cur:
            cur.execute(self._sql("SELECT model, url FROM model_links WHERE kind = ?"), (kind,))
            return dict(cur.fetchall())

    def record_view(self, model: str, actor: str, at: datetime) -> None:
        """Remember that `actor` looked at `model` now (not history: nothing changed)."""
        self.grants.require(actor=actor)
        with self._write() as cur:
            cur.execute("SELECT COALESCE(max(id), 0) FROM events")
            head = int(cur.fetchone()[0])
            cur.execute(
                self._sql(
                    "INSERT INTO model_views (model, actor, at, head) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (model, actor) DO UPDATE SET at = excluded.at, "
                    "head = excluded.head"
                ),
                (model, actor, self._time_in(at), head),
            )

    def last_view(self, model: str, actor: str) -> tuple[datetime, int] | None:
        with self._read() as cur:
            cur.execute(
                self._sql("SELECT at, head FROM model_views WHERE model = ? AND actor = ?"),
                (model, actor),
            )
            row = cur.fetchone()
        return (self._time_out(row[0]), int(row[1])) if row else None

    def events_after(self, model: str, after_id: int, limit: int = 200) -> list[Any]:
        """The model's events with an id above `after_id`, newest first."""
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "SELECT id, at, actor, model, kind, data FROM events "
                    "WHERE model = ? AND id > ? ORDER BY id DESC LIMIT ?"
                ),
                (model, after_id, limit),
            )
            rows = cur.fetchall()
        return [self._event(r) for r in rows]  # type: ignore[attr-defined]
