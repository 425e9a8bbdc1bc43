"""The unit of work: one change, one transaction, its rows and its events together.

`with store.transaction() as tx:` opens a write transaction under the grant the gate put in
force (UngatedWrite without one) and hands out typed repositories over that transaction:

- `tx.models`: the models, with the one guarded revision update;
- `tx.events`: the only way to append to the history, owning the audit chain;
- `tx.runs(table)`: builds, test runs and deployments, started and finished alike;
- `tx.rows(table)`: any other table, reading and writing its records (people, handoffs,
  alerts, settings...);
- `tx.outbox`: the webhook relay's queue and leases.

The store keeps two promises here so that no use case can forget them. A change to a table
the team's history describes (`Table.recorded`) must append its event in the same
transaction: leaving the block without one raises UngatedWrite and nothing is written. And a
grant that may not append what a change needs (a refusal, the relay's bookkeeping) may not
make one. Which change is allowed, and when, is the services' business: the repositories
only read and write rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic

from mlops_tui.domain import CHAIN_GENESIS, Event, Model, NewEvent, Webhook, chain_hash
from mlops_tui.errors import AlreadyExists, Conflict, NotFound, UngatedWrite, no_such
from mlops_tui.grants import Grant
from mlops_tui.store.schema import MODELS, R, Table

if TYPE_CHECKING:
    from mlops_tui.store.core import SqlCore


#: Columns of models that the guarded update may change: the rest are set once, or stamped
#: from the event.
UPDATABLE = frozenset(MODELS.names) - {
    "name",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "revision",
}


class Rows(Generic[R]):
    """One table inside a write transaction, read and written as its records.

    Values are given as a mapping of column names, or as the table's record itself; each is
    stored as its column's declaration says (times, JSON, enums, booleans). Conditions are
    the store's: `col=value`, Not, After or Since (`store.rows`); a None value is none.
    """

    def __init__(self, tx: Tx, table: Table[R]) -> None:
        self._tx = tx
        self.table = table

    # -- reading inside the transaction ------------------------------------------------------
    def get(self, *, order: str | None = None, **where: Any) -> R | None:
        """The first record matching `where` in `order` (as `store.rows`), or None."""
        found = self.all(limit=1, order=order, **where)
        return found[0] if found else None

    def all(self, *, limit: int | None = None, order: str | None = None, **where: Any) -> list[R]:
        """The records matching `where`, in `order` (newest first unless told otherwise)."""
        clause, params = self._tx.store._where(self.table, where)
        query = f"SELECT {self.table.select()} FROM {self.table.name}{clause} "
        query += f"ORDER BY {order or self.table.newest_first}"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [self._read(r) for r in self._run(query, params).fetchall()]

    # -- writing -----------------------------------------------------------------------------
    def insert(self, values: Mapping[str, Any] | R, *, duplicate: str | None = None) -> R:
        """Add a row and return its record as stored (ids and defaults filled in). Raises
        AlreadyExists, with `duplicate` as its message, when a unique key is taken."""
        cur = self._insert(values, f" RETURNING {self.table.select()}", duplicate)
        return self._read(cur.fetchone())

    def add(self, values: Mapping[str, Any], *, duplicate: str | None = None) -> None:
        """`insert` for a table whose rows are not read back as records."""
        self._insert(values, "", duplicate)

    def _insert(self, values: Mapping[str, Any] | R, returning: str, duplicate: str | None) -> Any:
        row = self._values(values)
        recorded = self._changing(row)
        marks = ", ".join("?" for _ in row)
        query = f"INSERT INTO {self.table.name} ({', '.join(row)}) VALUES ({marks}){returning}"
        try:
            cur = self._run(query, list(row.values()))
            self._changed(recorded, 1)
            return cur
        except Exception as exc:
            if self._tx.store.dialect.is_unique_violation(exc):
                raise AlreadyExists(duplicate or f"that {self._label} already exists") from None
            raise

    def insert_many(self, rows: Iterable[Mapping[str, Any] | R]) -> None:
        """Add rows of the same columns at once (no records returned)."""
        converted = [self._values(r) for r in rows]
        if not converted:
            return
        self._changed(self._changing(converted[0]), len(converted))
        names = list(converted[0])
        marks = ", ".join("?" for _ in names)
        self._tx.cursor.executemany(
            self._tx.store.dialect.sql(
                f"INSERT INTO {self.table.name} ({', '.join(names)}) VALUES ({marks})"
            ),
            [list(r.values()) for r in converted],
        )

    def update(self, changes: Mapping[str, Any], **where: Any) -> R | None:
        """Change the rows matching `where`; the first as stored after the change, or None
        when none matched (for a table without records: its first column's value)."""
        row = self._values(changes)
        recorded = self._changing(row)
        clause, params = self._condition(where)
        sets = ", ".join(f"{c} = ?" for c in row)
        record = self.table.record is not None
        returning = self.table.select() if record else self.table.names[0]
        cur = self._run(
            f"UPDATE {self.table.name} SET {sets}{clause} RETURNING {returning}",
            [*row.values(), *params],
        )
        found = cur.fetchall()
        self._changed(recorded, len(found))
        if not found:
            return None
        return self._read(found[0]) if record else found[0][0]

    def upsert(
        self,
        values: Mapping[str, Any] | R,
        key: Sequence[str],
        *,
        only: Sequence[str] | None = None,
        keep: Sequence[str] = (),
        ignore: bool = False,
    ) -> None:
        """Add the row, or when a row with the same `key` exists, change it to these values:
        `only` those columns when given, and a None in a `keep` column leaves the stored
        value (`ignore`: change nothing)."""
        row = self._values(values)
        recorded = self._changing(row)
        marks = ", ".join("?" for _ in row)
        changed = [c for c in row if c not in key and (only is None or c in only)]
        if ignore or not changed:
            action = "DO NOTHING"
        else:
            sets = [
                f"{c} = COALESCE(excluded.{c}, {self.table.name}.{c})"
                if c in keep
                else f"{c} = excluded.{c}"
                for c in changed
            ]
            action = f"DO UPDATE SET {', '.join(sets)}"
        cur = self._run(
            f"INSERT INTO {self.table.name} ({', '.join(row)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) {action}",
            list(row.values()),
        )
        self._changed(recorded, cur.rowcount)

    def delete(self, **where: Any) -> int:
        """Remove the rows matching `where`; how many there were."""
        recorded = self._changing(())
        clause, params = self._condition(where)
        count = int(self._run(f"DELETE FROM {self.table.name}{clause}", params).rowcount)
        self._changed(recorded, count)
        return count

    # -- the parts ---------------------------------------------------------------------------
    @property
    def _label(self) -> str:
        return (self.table.export_as or self.table.name).replace("_", " ")

    def _run(self, query: str, params: Sequence[Any]) -> Any:
        cur = self._tx.cursor
        cur.execute(self._tx.store.dialect.sql(query), params)
        return cur

    def _read(self, row: Sequence[Any]) -> R:
        return self._tx.store._reader(self.table)(row)

    def _values(self, values: Mapping[str, Any] | R) -> dict[str, Any]:
        if not isinstance(values, Mapping):
            values = {c.name: getattr(values, c.field) for c in self.table.columns if c.attr != ""}
        value_in = self._tx.store._value_in
        return {name: value_in(self.table.col(name), v) for name, v in values.items()}

    def _condition(self, where: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The rows a change is for: never every row by a condition that was left None."""
        clause, params = self._tx.store._where(self.table, where)
        if not clause:
            raise ValueError(f"a change to {self.table.name} with no condition")
        return clause, params

    def _changing(self, columns: Iterable[str]) -> bool:
        """Whether a change to these columns is one the history must describe; refused
        outright under a grant that could not append the event it needs."""
        if not self.table.recorded:
            return False
        names = list(columns)
        if names and all(self.table.col(c).bookkeeping for c in names):
            return False
        grant = self._tx.grant
        if grant.kinds is not None:
            raise UngatedWrite(
                f"a change to {self.table.name} under a grant for {grant.action}, "
                "which may not record it"
            )
        return True

    def _changed(self, recorded: bool, count: int) -> None:
        if recorded and count:
            self._tx.changed.add(self.table.name)


class Models(Rows[Model]):
    """The models: read and locked by name, changed one revision at a time."""

    def lock(self, name: str) -> Model:
        """The model, its row held until the transaction ends (writers of the same model wait
        for each other; others do not). Raises NotFound."""
        cur = self._run(self._tx.store.dialect.lock_model, [name])
        if cur.fetchone() is None:
            raise self._missing(name)
        found = self.get(name=name)
        assert found is not None
        return found

    def revise(
        self,
        name: str,
        changes: Mapping[str, Any],
        event: NewEvent,
        *,
        revision: int | None = None,
    ) -> Model | None:
        """The one update of a model: `changes`, the revision one up and the change stamped
        with the event's time and actor; only while the model is at `revision`, when given.
        Returns the model as stored, or None when no row matched (gone, or changed since
        it was read)."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        values = self._values(changes)
        recorded = self._changing(values or ["revision"])
        sets = "".join(f"{c} = ?, " for c in values)
        query = (
            f"UPDATE models SET {sets}revision = revision + 1, updated_at = ?, updated_by = ? "
            "WHERE name = ?"
        )
        params = [*values.values(), self._tx.store.dialect.time_in(event.at), event.actor, name]
        if revision is not None:
            query += " AND revision = ?"
            params.append(revision)
        row = self._run(f"{query} RETURNING {MODELS.select()}", params).fetchone()
        self._changed(recorded, row is not None)
        return None if row is None else self._read(row)

    def revise_held(self, name: str, changes: Mapping[str, Any], event: NewEvent) -> Model:
        """`revise` for a model this transaction holds. Raises NotFound."""
        stored = self.revise(name, changes, event)
        if stored is None:
            raise self._missing(name)
        return stored

    def _missing(self, name: str) -> NotFound:
        names = [row[0] for row in self._run("SELECT name FROM models", []).fetchall()]
        return no_such("model", name, names, cli="see `mlops model list`")


class Runs(Rows[R]):
    """Builds, test runs or deployments: each starts running and is finished once."""

    def start(self, values: Mapping[str, Any]) -> R:
        """Record a run of `values["model"]` as running, with the model held (NotFound when
        it does not exist)."""
        self._tx.models.lock(values["model"])
        return self.insert({**values, "status": "running"})

    def finish(self, run_id: int, changes: Mapping[str, Any]) -> R:
        """Close a running run with `changes`. Raises NotFound, or Conflict when it has
        already ended."""
        done = self.update(changes, id=run_id, status="running")
        if done is not None:
            return done
        found = self._run(f"SELECT status FROM {self.table.name} WHERE id = ?", [run_id])
        row = found.fetchone()
        if row is None:
            raise NotFound(f"no {self._label} #{run_id}")
        raise Conflict(f"{self._label} #{run_id} is no longer running (it is {row[0]})")


class Events:
    """The history: appended to, linked into the audit chain, never changed."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    def append(self, event: NewEvent) -> Event:
        """Append `event`, checked against the grant (actor, model, kind), with the next id
        and its chain hash. Appenders are serialised from here to the commit, so a change
        appends its events after its other statements. A person who joins with this change
        (the gate marked the event `joined` with their role) becomes a user here too."""
        tx = self._tx
        tx.store.grants.require(actor=event.actor, model=event.model, kind=event.kind)
        dialect = tx.store.dialect
        if event.data.get("joined"):
            event = self._join(event)
        prev, event_id = dialect.next_in_chain(tx.cursor)
        prev = prev or CHAIN_GENESIS
        digest = chain_hash(
            prev, event_id, event.at, event.actor, event.model, event.kind, event.data
        )
        at = dialect.time_in(event.at)
        data = dialect.json_in(event.data)
        row = (event_id, at, event.actor, event.model, event.kind, data, prev, digest)
        dialect.append_chain(tx.cursor, row)
        tx.appended += 1
        return Event(event_id, event.at, event.actor, event.model, event.kind, event.data)

    def _join(self, event: NewEvent) -> NewEvent:
        """Returns the event to append: without the mark when someone else added the person
        meanwhile."""
        at = self._tx.store.dialect.time_in(event.at)
        cur = self._tx.cursor
        cur.execute(
            self._tx.store.dialect.sql(
                "INSERT INTO users (name, role, active, created_at, created_by, updated_at, "
                "updated_by) VALUES (?, ?, 1, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING"
            ),
            (event.actor, str(event.data["joined"]), at, event.actor, at, event.actor),
        )
        return event if cur.rowcount else event.without("joined")


class Outbox:
    """The webhook relay's queue, built on the append-only history: each webhook keeps a
    cursor (`last_event`) over the events, and `enqueue` turns the events past it into
    deliveries in the transaction that moves it, so an event is queued exactly once per
    webhook whatever happens to the receiver or the process. Bookkeeping: no event."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    def _run(self, query: str, params: Sequence[Any]) -> Any:
        self._tx.cursor.execute(self._tx.store.dialect.sql(query), params)
        return self._tx.cursor

    def enqueue(self, hook: Webhook, at: datetime, batch: int = 1000) -> int:
        """Queue the next `batch` events past the cursor that `hook` wants; returns how many
        events were read (call again while it is not 0). The cursor's row is locked first,
        so two relays never queue twice."""
        row = self._run(
            "UPDATE webhooks SET last_event = last_event WHERE id = ? AND active = 1 "
            "RETURNING last_event",
            [hook.id],
        ).fetchone()
        if row is None:
            return 0
        query = "SELECT id, kind FROM events WHERE id > ? ORDER BY id LIMIT ?"
        events = self._run(query, [int(row[0]), batch]).fetchall()
        if not events:
            return 0
        when = self._tx.store.dialect.time_in(at)
        wanted = [(hook.id, int(i), k, when) for i, k in events if hook.wants(k)]
        if wanted:
            self._tx.cursor.executemany(
                self._tx.store.dialect.sql(
                    "INSERT INTO webhook_deliveries (webhook, event, kind, status, "
                    "next_attempt_at) VALUES (?, ?, ?, 'pending', ?) "
                    "ON CONFLICT (webhook, event) DO NOTHING"
                ),
                wanted,
            )
        self._run("UPDATE webhooks SET last_event = ? WHERE id = ?", [int(events[-1][0]), hook.id])
        return len(events)

    def claim(self, hook_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take (or keep) the webhook's lease until `until`, unless another relay holds one
        that has not run out; whether this relay has it."""
        time_in = self._tx.store.dialect.time_in
        row = self._run(
            "UPDATE webhooks SET lease_until = ?, lease_owner = ? WHERE id = ? AND active = 1 "
            "AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?) RETURNING id",
            [time_in(until), owner, hook_id, time_in(now), owner],
        ).fetchone()
        return row is not None

    def release(self, hook_id: int, owner: str) -> None:
        self._run(
            "UPDATE webhooks SET lease_until = NULL, lease_owner = NULL "
            "WHERE id = ? AND lease_owner = ?",
            [hook_id, owner],
        )


class Tx:
    """One write transaction and its repositories (see the module's docstring)."""

    def __init__(self, store: SqlCore, cursor: Any, grant: Grant) -> None:
        self.store = store
        self.cursor = cursor
        self.grant = grant
        self.changed: set[str] = set()
        self.appended = 0
        self.restored = False
        self.models = Models(self, MODELS)
        self.events = Events(self)
        self.outbox = Outbox(self)

    def rows(self, table: Table[R]) -> Rows[R]:
        return Rows(self, table)

    def runs(self, table: Table[R]) -> Runs[R]:
        return Runs(self, table)

    def restore(self, records: Mapping[str, Iterable[dict[str, Any]]]) -> None:
        """Load an export (record type -> its records) into this empty database as it was:
        its history too, hashes and all, with the chain's anchor at its head. Raises
        InvalidInput for a value of the wrong type or rows the database refuses."""
        self.store._load(self.cursor, records)
        self.restored = True

    def close(self) -> None:
        """Refuse to commit a change the history does not describe."""
        if self.changed and not (self.appended or self.restored):
            raise UngatedWrite(
                f"a change to {', '.join(sorted(self.changed))} with no event in the history"
            )
