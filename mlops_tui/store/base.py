"""The persistence contract that both backends honour, so services never know which one runs.

Every write method is one transaction that changes the state *and* appends its event:
either both land or neither does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from mlops_tui.domain import Event, Model, NewEvent, Stage
from mlops_tui.grants import Grant, Grants


class StatusRow(NamedTuple):
    """The slice of a model that `mlops status` prints, fetched without building a Model."""

    name: str
    stage: str
    owner: str
    version: int | None
    production_version: int | None
    health: str
    updated_at: datetime
    updated_by: str


class Change(NamedTuple):
    """A write's outcome: the model as stored and the event that records it."""

    model: Model
    event: Event


class Store(ABC):
    """Shared state: models and their append-only history.

    Every write needs a grant from the service layer's gate in force (`acting`): without
    one, or for an actor, model or kind of event the grant does not cover, a write method
    raises UngatedWrite before it changes anything.
    """

    #: "sqlite" or "postgresql"
    backend: str
    #: where the data lives, safe to print (no password)
    location: str

    @property
    def grants(self) -> Grants:
        """The grants in force on this store (one use case at a time uses a store)."""
        found: Grants | None = self.__dict__.get("_grants")
        if found is None:
            found = self.__dict__["_grants"] = Grants()
        return found

    @contextmanager
    def acting(self, grant: Grant) -> Iterator[Grant]:
        """Put `grant` in force for the writes made inside the block."""
        self.grants.push(grant)
        try:
            yield grant
        finally:
            self.grants.pop(grant)

    @abstractmethod
    def close(self) -> None:
        """Release the connection. Safe to call twice."""

    @abstractmethod
    def schema_version(self) -> int:
        """Return the schema version of the database (0 when it has never been initialised)."""

    @abstractmethod
    def migrate(self) -> tuple[int, int]:
        """Bring the schema to the version this code expects, in one transaction.

        Returns (version before, version after); both equal when nothing was to do.
        Raises StoreUnavailable when the database was written by a newer release.
        """

    # -- reads -------------------------------------------------------------------------
    @abstractmethod
    def get_model(self, name: str) -> Model:
        """Return the model called `name`. Raises NotFound."""

    @abstractmethod
    def list_models(self, *, stage: Stage | None = None, owner: str | None = None) -> list[Model]:
        """Return models ordered by name, optionally only those in `stage` or held by `owner`."""

    @abstractmethod
    def status_rows(
        self, *, stage: Stage | None = None, owner: str | None = None
    ) -> list[StatusRow]:
        """Like list_models, but only the columns of the status table, and cheaply."""

    @abstractmethod
    def count_models(self) -> int:
        """Return how many models exist."""

    @abstractmethod
    def history(
        self,
        *,
        model: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Return events newest first, filtered by model, actor and time (since <= at < until)."""

    @abstractmethod
    def head(self) -> int:
        """Return the id of the newest event (0 when there is none).

        Every change appends an event, so a reader that sees `head` move knows the state
        changed; the TUI polls this to show other people's changes.
        """

    @abstractmethod
    def last_event(self, model: str) -> Event | None:
        """Return the newest event of `model`, or None."""

    # -- writes (each one transaction, state and event together) ----------------------
    @abstractmethod
    def insert_model(self, model: Model, event: NewEvent) -> Change:
        """Create `model` and append `event`. Raises AlreadyExists."""

    @abstractmethod
    def update_model(
        self,
        name: str,
        *,
        expected_revision: int,
        changes: Mapping[str, Any],
        event: NewEvent,
    ) -> Change:
        """Apply `changes` to the model if it is still at `expected_revision`, and append `event`.

        The revision goes up by one and updated_at/updated_by come from the event.
        Raises NotFound, or Conflict naming who changed the model since it was read.
        Returns the model as stored and the stored event.
        """

    @abstractmethod
    def append_event(self, event: NewEvent) -> Event:
        """Append an event that changes no state (a Git operation, an attempt that failed)."""

    # -- whole-state transfer ---------------------------------------------------------
    @abstractmethod
    def dump(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ("model", row) for every model by name, then ("event", row) by id.

        Rows are plain JSON-ready dicts (timestamps as ISO-8601 strings with offset).
        """

    @abstractmethod
    def load(self, models: Iterable[dict[str, Any]], events: Iterable[dict[str, Any]]) -> None:
        """Insert rows as `dump` yields them, ids and timestamps kept, in one transaction.

        Raises Conflict when the database is not empty.
        """

    # -- the loop's evidence: tests, deployments, checks, alerts (issue 5) -------------
    # Implemented once in store/sql_loop.py (LoopSql); full signatures and docs there.
    @abstractmethod
    def start_test_run(self, **kw: Any) -> Any:
        """Record a running test run (host, pid) and its event. Raises NotFound."""

    @abstractmethod
    def finish_test_run(self, run_id: int, **kw: Any) -> Any:
        """Close a running test run with its status, counts and tail, and its event.
        Raises NotFound, or Conflict when it is no longer running."""

    @abstractmethod
    def test_runs(self, model: str | None = None, **kw: Any) -> list[Any]:
        """Test runs newest first, by model, version, status; `limit` (default 20)."""

    @abstractmethod
    def start_deployment(self, **kw: Any) -> Any:
        """Record a running deployment or rollback (host, pid) and its event."""

    @abstractmethod
    def finish_deployment(self, deployment_id: int, **kw: Any) -> tuple[Any, Change]:
        """Close a running deployment; on success set the production version and start its
        monitoring clock, with the event, in one transaction."""

    @abstractmethod
    def deployments(self, model: str | None = None, **kw: Any) -> list[Any]:
        """Deployments and rollbacks newest first, by model, status, version; `limit`."""

    @abstractmethod
    def record_check(self, **kw: Any) -> tuple[Any, list[Any], Change | None]:
        """One check: its row, its time series, health, alerts opened/resolved, events."""

    @abstractmethod
    def last_check(self, model: str, *, ok: bool | None = None) -> Any | None:
        """The model's newest check (only successful ones with ok=True), or None."""

    @abstractmethod
    def checks(
        self, model: str, metric: str | None = None, since: datetime | None = None
    ) -> list[Any]:
        """The model's time series (CheckResult), oldest first."""

    @abstractmethod
    def stale_models(self, now: datetime) -> set[str]:
        """Production models with no successful check within their max_age at `now`."""

    @abstractmethod
    def open_alerts(self, model: str | None = None) -> list[Any]:
        """Unresolved alerts (open or acknowledged), newest first: the on-call view's list."""

    @abstractmethod
    def ack_alert(
        self, alert_id: int, *, actor: str, at: datetime, note: str | None, event: NewEvent
    ) -> Any:
        """Acknowledge an open alert. Raises NotFound, or Conflict when not open."""

    # -- the team: people, handoffs, settings, audit chain (issue 6) --------------------
    # Every append (SqlStore._append) also links the event into the audit chain: it is
    # serialised, takes the next id and stores prev_hash and hash (domain.chain_hash).
    @abstractmethod
    def chain(self) -> Iterator[tuple[Any, ...]]:
        """Yield (id, at, actor, model, kind, data, prev_hash, hash) for every event, oldest
        first, as stored (for `mlops audit verify`)."""

    @abstractmethod
    def chain_snapshot(self) -> AbstractContextManager[tuple[Any, int | None, Iterator[Any]]]:
        """A context giving (anchor, sequence, rows) read at one moment: the anchor's (event
        id, hash, events appended) or None when its row is gone; on SQLite the highest event
        id ever handed out (None on PostgreSQL); the rows as `chain` yields them."""

    @abstractmethod
    def chain_head(self) -> tuple[Any, Any]:
        """Return (anchor, newest event's (id, at, hash) or None), read at one moment."""

    @abstractmethod
    def get_user(self, name: str) -> Any:
        """Return the User called `name`, or None when the tool has never seen them."""

    @abstractmethod
    def list_users(self) -> list[Any]:
        """Return every User by name."""

    @abstractmethod
    def inactive_users(self) -> set[str]:
        """Return the names of deactivated people (the models they own are orphaned)."""

    @abstractmethod
    def add_user(self, user: Any, event: NewEvent) -> Any:
        """Add `user` and append `event`. Raises AlreadyExists."""

    @abstractmethod
    def update_user(self, name: str, changes: Mapping[str, Any], event: NewEvent) -> Any:
        """Change role, email or active, append `event`; return the User. Raises NotFound."""

    @abstractmethod
    def count_admins(self) -> int:
        """Return how many active admins there are."""

    @abstractmethod
    def get_setting(self, key: str) -> Any:
        """Return a shared setting's value, or None when it was never set."""

    @abstractmethod
    def settings(self) -> dict[str, tuple[Any, datetime, str]]:
        """Return key -> (value, when set, by whom) for every setting that was set."""

    @abstractmethod
    def set_setting(self, key: str, value: Any, event: NewEvent) -> None:
        """Set a shared setting (any JSON value) and append `event`."""

    @abstractmethod
    def database_user(self) -> str | None:
        """Return the connection's database role (PostgreSQL), None for SQLite."""

    @abstractmethod
    def create_handoffs(self, requests: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Create pending handoffs, each (model as read, to, note, checklist, event), all in
        one transaction. Raises Conflict when a model changed owner since it was read,
        AlreadyExists when one already has a pending handoff."""

    @abstractmethod
    def get_handoff(self, handoff_id: int) -> Any:
        """Return handoff `handoff_id`. Raises NotFound."""

    @abstractmethod
    def list_handoffs(
        self,
        *,
        status: Any = None,
        to_user: str | None = None,
        involving: str | None = None,
        model: str | None = None,
    ) -> list[Any]:
        """Return handoffs by id, filtered by status, receiver, either party or model."""

    @abstractmethod
    def update_handoff(self, handoff: Any, **changes: Any) -> tuple[Any, Model | None]:
        """Tick items of or close a handoff still as read, with its event, and on acceptance
        change the model (optimistic on its revision) in the same transaction. Raises
        Conflict when either changed since it was read."""

    @abstractmethod
    def set_link(self, model: str, kind: str, url: str | None, event: NewEvent) -> None:
        """Set (None: remove) a model's link of `kind` (the runbook) and append `event`."""

    @abstractmethod
    def links(self, kind: str) -> dict[str, str]:
        """Return model -> url for every model with a link of `kind`."""

    @abstractmethod
    def record_view(self, model: str, actor: str, at: datetime) -> None:
        """Remember that `actor` looked at `model` at `at` (not an event: nothing changed)."""

    @abstractmethod
    def last_view(self, model: str, actor: str) -> tuple[datetime, int] | None:
        """Return (when, the newest event id then) of `actor`'s last look at `model`."""

    @abstractmethod
    def events_after(self, model: str, after_id: int, limit: int = 200) -> list[Event]:
        """Return the model's events with an id above `after_id`, newest first."""

    # -- approvals, webhooks, clean-up (issue 8) ------------------------------------------
    # Implemented once in store/sql_registry.py (RegistrySql); full signatures there.
    @abstractmethod
    def replay_events(self, **kw: Any) -> list[Event]:
        """Events OLDEST first, by model, kinds, `until` (at <= until), `upto` (id <=),
        `after` (id >) and `limit`: what time travel replays."""

    @abstractmethod
    def events_by_id(self, ids: Iterable[int]) -> dict[int, Event]:
        """The events with these ids (missing ones left out)."""

    @abstractmethod
    def approval_rules(self) -> dict[str, int]:
        """Approvals required before production: model name (or "*", every model) -> N."""

    @abstractmethod
    def set_approval_rule(self, scope: str, required: int, event: NewEvent) -> Event:
        """Set (0: remove) the rule for `scope` and append `event`, in one transaction."""

    @abstractmethod
    def add_webhook(
        self, url: str, categories: Any, secret_env: str | None, event: NewEvent
    ) -> Any:
        """Create a webhook whose cursor starts at `event`, appended in the same transaction."""

    @abstractmethod
    def webhooks(self, *, include_removed: bool = False) -> list[Any]:
        """Webhooks by id (removed ones only with include_removed)."""

    @abstractmethod
    def get_webhook(self, hook_id: int) -> Any:
        """An active webhook. Raises NotFound."""

    @abstractmethod
    def remove_webhook(self, hook_id: int, event: NewEvent) -> Event:
        """Deactivate it (its log stays) and append `event`. Raises NotFound."""

    @abstractmethod
    def enqueue(self, hook: Any, at: datetime, batch: int = 1000) -> tuple[int, int]:
        """Turn events past the webhook's cursor into deliveries and move the cursor, in one
        transaction, the cursor row locked; returns (events read, deliveries queued)."""

    @abstractmethod
    def claim_webhook(self, hook_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take (or extend) the webhook's delivery lease; False when another relay holds it."""

    @abstractmethod
    def release_webhook(self, hook_id: int, owner: str) -> None:
        """Give the lease back (only if `owner` holds it)."""

    @abstractmethod
    def next_delivery(self, hook_id: int) -> tuple[Any, Event] | None:
        """The webhook's oldest undelivered delivery and its event, or None."""

    @abstractmethod
    def record_attempt(self, **kw: Any) -> Any:
        """Log one attempt and, for a queued delivery, its new state, in one transaction."""

    @abstractmethod
    def attempts(self, **kw: Any) -> list[Any]:
        """Delivery attempts newest first, by webhook and the event's model; `limit`."""

    @abstractmethod
    def deliveries(self, **kw: Any) -> list[Any]:
        """Deliveries by event id, by webhook and status ("pending" or "delivered")."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
