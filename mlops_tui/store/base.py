"""The persistence contract that both backends honour, so services never know which one runs.

Every write method is one transaction that changes the state *and* appends its event:
either both land or neither does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from mlops_tui.domain import (
    Alert,
    Attempt,
    Build,
    BuildStatus,
    Check,
    ChecklistItem,
    CheckResult,
    Delivery,
    Deployment,
    Event,
    Handoff,
    HandoffStatus,
    Health,
    Model,
    NewEvent,
    RunStatus,
    Stage,
    TestRun,
    User,
    Version,
    Webhook,
)
from mlops_tui.grants import Grant, Grants
from mlops_tui.store.dialect import Anchor


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


class Checkpoint(NamedTuple):
    """Every model's replayed state after event `upto`, in the service's own bytes."""

    upto: int
    #: the latest time among the events folded in (None: there were none)
    max_at: datetime | None
    #: how many models the state holds
    models: int
    state: bytes


class Watch(Protocol):
    """A wait for other people's changes, on a connection of its own."""

    def wait(self, timeout: float) -> bool:
        """Block until a change commits or `timeout` seconds pass; True when one did.
        Raises StoreUnavailable when the connection is lost."""

    def close(self) -> None:
        """Stop listening and release the connection. Safe to call twice."""


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

    def watch(self) -> Watch | None:
        """A Watch on this database's changes, or None where the database cannot tell
        (SQLite: its readers poll `head`). Raises StoreUnavailable when it cannot connect."""
        return None

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
        # By hand, not `rows`: the one read `mlops status` makes, and its budget is tight.
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
        search: str | None = None,
    ) -> list[Event]:
        """Return events newest first, filtered by model, actor, time (since <= at < until)
        and words (`search`: events whose kind, actor, model or data hold every word)."""

    @abstractmethod
    def head(self) -> int:
        """Return the id of the newest event (0 when there is none).

        Every change appends an event, so a reader that sees `head` move knows the state
        changed; the TUI polls this to show other people's changes."""

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
        Returns the model as stored and the stored event."""

    @abstractmethod
    def append_event(self, event: NewEvent) -> Event:
        """Append an event that changes no state (a Git operation, an attempt that failed)."""

    @abstractmethod
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
        """"""

    @abstractmethod
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
        """"""

    @abstractmethod
    def get_build(self, build_id: int) -> Build:
        """"""

    @abstractmethod
    def builds(
        self,
        *,
        model: str | None = None,
        status: BuildStatus | None = None,
        limit: int | None = None,
    ) -> list[Build]:
        """"""

    @abstractmethod
    def versions(self, model: str) -> list[Version]:
        """"""

    # -- whole-state transfer ---------------------------------------------------------
    @abstractmethod
    def dump(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ("model", row) for every model by name, then ("event", row) by id.

        Rows are plain JSON-ready dicts (timestamps as ISO-8601 strings with offset)."""

    @abstractmethod
    def load(self, records: Mapping[str, Iterable[dict[str, Any]]]) -> None:
        """Insert rows as `dump` yields them (record type -> rows), ids and timestamps kept,
        in one transaction.

        Raises Conflict when the database is not empty."""

    # -- the loop's evidence: tests, deployments, checks, alerts -------------------------
    # Implemented once in store/sql_loop.py (LoopSql); full signatures and docs there.
    @abstractmethod
    def start_test_run(
        self,
        *,
        model: str,
        version: int,
        commit: str | None,
        in_image: bool,
        command: list[str],
        at: datetime,
        actor: str,
        host: str | None,
        pid: int | None,
        url: str | None = None,
        event: NewEvent,
    ) -> TestRun:
        """Record a running test run (host, pid) and its event. Raises NotFound."""

    @abstractmethod
    def finish_test_run(
        self,
        run_id: int,
        *,
        status: RunStatus,
        at: datetime,
        counts: tuple[int, int, int] | None = None,
        error: str | None = None,
        log_tail: str = "",
        event: NewEvent,
    ) -> TestRun:
        """Close a running test run with its status, counts and tail, and its event.
        Raises NotFound, or Conflict when it is no longer running."""

    @abstractmethod
    def test_runs(
        self,
        model: str | None = None,
        limit: int | None = 20,
        *,
        version: int | None = None,
        status: RunStatus | None = None,
    ) -> list[TestRun]:
        """Test runs newest first, optionally of one model, one version or one status."""

    @abstractmethod
    def start_deployment(
        self,
        *,
        model: str,
        version: int,
        kind: str,
        target: str,
        image: str | None,
        previous_version: int | None,
        at: datetime,
        actor: str,
        host: str | None,
        pid: int | None,
        event: NewEvent,
    ) -> Deployment:
        """Record a running deployment or rollback (host, pid) and its event."""

    @abstractmethod
    def finish_deployment(
        self,
        deployment_id: int,
        *,
        status: RunStatus,
        at: datetime,
        error: str | None = None,
        log_tail: str = "",
        rolled_back: bool = False,
        stale_at: datetime | None = None,
        event: NewEvent,
    ) -> tuple[Deployment, Change]:
        """Close a running deployment. On success the model's production_version becomes the
        deployed version and its monitoring clock starts (stale_at), with the event, in the
        same transaction. Returns (deployment, Change)."""

    @abstractmethod
    def deployments(
        self,
        model: str | None = None,
        limit: int | None = 20,
        *,
        status: RunStatus | None = None,
        version: int | None = None,
    ) -> list[Deployment]:
        """Deployments and rollbacks newest first, optionally of one model/status/version."""

    @abstractmethod
    def record_check(
        self,
        *,
        model: str,
        at: datetime,
        version: int | None,
        health: Health,
        ok: bool,
        detail: str,
        actor: str,
        results: Sequence[tuple[str, float | None, Health]],
        stale_at: datetime | None,
        event: NewEvent,
        alerts: Sequence[Mapping[str, Any]] = (),
        alert_events: Sequence[NewEvent] = (),
        resolve: Sequence[str] = (),
        resolve_events: Sequence[NewEvent] = (),
    ) -> tuple[Check, list[Alert], Change | None]:
        """Store one check: its overall row, one time-series row per metric, the model's
        health and monitoring clock (stale_at, moved on only when `ok`), the alerts it opens
        (skipping a metric that already has an unresolved alert) and resolves, and their
        events, in one transaction. The model and its history change only when its health
        does (`event` is appended then), so a check every 30 s does not flood the history or
        bump the revision others hold. Returns (check, alerts opened, Change or None)."""

    @abstractmethod
    def last_check(self, model: str, *, ok: bool | None = None) -> Check | None:
        """The model's newest check (only successful ones with ok=True), or None."""

    @abstractmethod
    def recent_checks(self, model: str, limit: int = 20) -> list[Check]:
        """The model's checks, newest first."""

    @abstractmethod
    def checks(
        self, model: str, metric: str | None = None, since: datetime | None = None
    ) -> list[CheckResult]:
        """The time series of one model (one metric when given), oldest first, since `since`."""

    @abstractmethod
    def stale_models(self, now: datetime) -> set[str]:
        """Production models whose last successful check is older than their max_age (or
        that never had one within max_age of their deployment)."""

    @abstractmethod
    def monitoring(self, model: str) -> dict[str, datetime | None] | None:
        """The model's monitoring clock: stale_at, last_ok_at, last_check_at; or None."""

    @abstractmethod
    def open_alerts(self, model: str | None = None) -> list[Alert]:
        """Unresolved alerts (open or acknowledged), newest first; the on-call view reads
        these. An acknowledged alert stays here until a check finds the metric recovered."""

    @abstractmethod
    def alerts(self, model: str | None = None, limit: int | None = 100) -> list[Alert]:
        """Every alert, resolved ones included, newest first."""

    @abstractmethod
    def get_alert(self, alert_id: int) -> Alert:
        """"""

    @abstractmethod
    def ack_alert(
        self, alert_id: int, *, actor: str, at: datetime, note: str | None, event: NewEvent
    ) -> Alert:
        """Acknowledge an open alert and append `event`. Raises NotFound, or Conflict when it
        is already acknowledged or resolved."""

    # -- the team: people, handoffs, settings, audit chain ------------------------------
    # Every append (SqlCore._append) also links the event into the audit chain: it is
    # serialised, takes the next id and stores prev_hash and hash (domain.chain_hash).
    @abstractmethod
    def chain(self, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Yield (id, at, actor, model, kind, data, prev_hash, hash) for every event, oldest
        first, as stored (for `mlops audit verify`)."""

    @abstractmethod
    @contextmanager
    def chain_snapshot(
        self, batch: int = 5000
    ) -> Iterator[tuple[Anchor, int | None, Iterator[tuple[Any, ...]]]]:
        """What `mlops audit verify` compares, read at one moment: the anchor; the highest
        event id SQLite ever handed out (its AUTOINCREMENT counter, a second witness of
        deleted newest events; None on PostgreSQL, whose sequence also moves on a rolled-back
        append and so proves nothing); and the events as `chain` yields them. The rows can
        only be read inside the block."""

    @abstractmethod
    def chain_head(self) -> tuple[Anchor, tuple[int, datetime, str | None] | None]:
        """The anchor and the newest event's (id, at, hash), read at one moment: what
        `mlops audit head` prints once it has checked that they agree."""

    @abstractmethod
    def get_user(self, name: str) -> User | None:
        """Return the User called `name`, or None when the tool has never seen them."""

    @abstractmethod
    def list_users(self) -> list[User]:
        """Return every User by name."""

    @abstractmethod
    def inactive_users(self) -> set[str]:
        """Return the names of deactivated people (the models they own are orphaned)."""

    @abstractmethod
    def add_user(self, user: User, event: NewEvent) -> User:
        """Add `user` and append `event`. Raises AlreadyExists."""

    @abstractmethod
    def update_user(self, name: str, changes: Mapping[str, Any], event: NewEvent) -> User:
        """Change role, email or active, append `event`; return the User. Raises NotFound."""

    @abstractmethod
    def count_admins(self) -> int:
        """Return how many active admins there are."""

    @abstractmethod
    def get_setting(self, key: str) -> Any:
        """The setting's value (decoded JSON), or None when it was never set."""

    @abstractmethod
    def settings(self) -> dict[str, tuple[Any, datetime, str]]:
        """Return key -> (value, when set, by whom) for every setting that was set."""

    @abstractmethod
    def set_setting(self, key: str, value: Any, event: NewEvent) -> None:
        """Set a shared setting (any JSON value) and append `event`."""

    @abstractmethod
    def database_user(self) -> str | None:
        """The database role of this connection (PostgreSQL), which no variable can spoof."""

    @abstractmethod
    def create_handoffs(
        self, requests: Sequence[tuple[Model, str, str | None, list[str], NewEvent]]
    ) -> list[Handoff]:
        """Create pending handoffs, each (model as read, to, note, checklist, event), all in
        one transaction. Raises Conflict when a model changed owner since it was read,
        AlreadyExists when one already has a pending handoff."""

    @abstractmethod
    def get_handoff(self, handoff_id: int) -> Handoff:
        """Return handoff `handoff_id`. Raises NotFound."""

    @abstractmethod
    def list_handoffs(
        self,
        *,
        status: HandoffStatus | None = None,
        to_user: str | None = None,
        involving: str | None = None,
        model: str | None = None,
    ) -> list[Handoff]:
        """Return handoffs by id, filtered by status, receiver, either party or model."""

    @abstractmethod
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

    # -- approvals, webhooks, clean-up --------------------------------------------------
    # Implemented once in store/sql_registry.py (RegistrySql); full signatures there.
    @abstractmethod
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
        """Events OLDEST first, by model, kinds, `until` (at <= until), `upto` (id <=),
        `after` (id >) and `limit`: what time travel replays."""

    @abstractmethod
    def checkpoint(self, replay: int, until: datetime | None = None) -> Checkpoint | None:
        """The newest checkpoint of format `replay` whose events all lie at or before
        `until` (the newest of all when None), or None."""

    @abstractmethod
    def checkpoints(self, replay: int) -> list[Checkpoint]:
        """Every checkpoint of format `replay`, oldest first (for `mlops audit verify`)."""

    @abstractmethod
    def checkpoint_lag(self, replay: int) -> tuple[int, int, int]:
        """(the newest event's id, the newest checkpoint's `upto` and `models`; 0 and 0
        when there is none), cheaply: asked after every write."""

    @abstractmethod
    def add_checkpoint(self, replay: int, checkpoint: Checkpoint) -> None:
        """Keep `checkpoint` (bookkeeping: no event). One already kept at the same event,
        by a concurrent writer, is left as it is."""

    @abstractmethod
    def events_by_id(self, ids: Iterable[int]) -> dict[int, Event]:
        """The events with these ids (missing ones left out)."""

    @abstractmethod
    def last_answered_checks(self, until: datetime) -> dict[str, datetime]:
        """Each model's newest check that got an answer, at or before `until` (the
        checks table): with the deploy time, what staleness was counted from then."""

    @abstractmethod
    def approval_rules(self) -> dict[str, int]:
        """Approvals required before production: model name (or "*", every model) -> N."""

    @abstractmethod
    def set_approval_rule(self, scope: str, required: int, event: NewEvent) -> Event:
        """Set (0: remove) the rule for `scope` and append `event`, in one transaction."""

    @abstractmethod
    def add_webhook(
        self, url: str, categories: tuple[str, ...], secret_env: str | None, event: NewEvent
    ) -> Webhook:
        """Create a webhook whose cursor starts at `event`, appended in the same transaction."""

    @abstractmethod
    def webhooks(self, *, include_removed: bool = False) -> list[Webhook]:
        """Webhooks by id (removed ones only with include_removed)."""

    @abstractmethod
    def get_webhook(self, hook_id: int) -> Webhook:
        """An active webhook. Raises NotFound."""

    @abstractmethod
    def remove_webhook(self, hook_id: int, event: NewEvent) -> Event:
        """Deactivate it (its log stays) and append `event`. Raises NotFound."""

    @abstractmethod
    def enqueue(self, hook: Webhook, at: datetime, batch: int = 1000) -> tuple[int, int]:
        """Queue the events past the webhook's cursor that it wants; returns how many events
        were read and how many were queued (call again while the first is not 0).

        The cursor row is locked first (an UPDATE), so two relays never queue twice."""

    @abstractmethod
    def claim_webhook(self, hook_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take (or extend) the webhook's delivery lease; False when another relay holds it."""

    @abstractmethod
    def release_webhook(self, hook_id: int, owner: str) -> None:
        """Give the lease back (only if `owner` holds it)."""

    @abstractmethod
    def next_delivery(self, hook_id: int) -> tuple[Delivery, Event] | None:
        """The oldest undelivered event of the webhook: later ones wait behind it (order)."""

    @abstractmethod
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
        """Log one attempt and, for a queued delivery, its new state, in one transaction."""

    @abstractmethod
    def attempts(
        self, *, webhook: int | None = None, model: str | None = None, limit: int | None = 50
    ) -> list[Attempt]:
        """Delivery attempts newest first, by webhook and the event's model; `limit`."""

    @abstractmethod
    def deliveries(
        self, *, webhook: int | None = None, status: str | None = None, limit: int | None = None
    ) -> list[Delivery]:
        """Deliveries by event id, by webhook and status ("pending" or "delivered")."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
