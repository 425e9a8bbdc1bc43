"""The persistence contract that both backends honour, so services never know which one runs.

Reads are the methods below. Every write is a unit of work, `with store.transaction() as
tx:`, whose rows and events land together or not at all (see `store.unit`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from mlops_tui.domain import (
    Attempt,
    Delivery,
    Event,
    Model,
    Stage,
    User,
)
from mlops_tui.errors import InvalidInput
from mlops_tui.grants import Grant, Grants
from mlops_tui.store.dialect import Anchor
from mlops_tui.store.schema import R, Table

if TYPE_CHECKING:
    from mlops_tui.store.unit import Tx


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


class ExposedRow(NamedTuple):
    """The slice of a model `mlops serve` exposes to Prometheus, fetched without building
    a Model (a scrape reads every model)."""

    name: str
    stage: str
    owner: str
    backup: str | None
    version: int | None
    production_version: int | None
    health: str


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

    Reads are methods. Writes go through `transaction()`, and only with a grant from the
    service layer's gate in force (`acting`): without one, or for an actor, model or kind
    of event the grant does not cover, the write raises UngatedWrite before it changes
    anything.
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
    def transaction(self) -> AbstractContextManager[Tx]:
        """A write transaction and its repositories (`store.unit`), committed when the block
        ends, rolled back when it raises. Raises UngatedWrite with no grant in force, and at
        the end when a recorded change appended no event; StoreUnavailable when the
        database cannot be written."""

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
    def rows(
        self, table: Table[R], *, order: str | None = None, limit: int | None = None, **where: Any
    ) -> list[R]:
        """The records of `table` matching `where`: `column=value`, or `column=Not(v)`,
        `After(v)` (greater) or `Since(v)` (at least); a None value is no condition, so
        optional filters pass straight through. Newest first (by id, else the table's
        order) unless `order`; at most `limit` (None: all). The one query helper behind
        every listing: a new one needs no new method."""

    @abstractmethod
    def row(self, table: Table[R], *, order: str | None = None, **where: Any) -> R | None:
        """The first of `rows`, or None."""

    @abstractmethod
    def get_model(self, name: str) -> Model:
        """Return the model called `name`. Raises NotFound."""

    @abstractmethod
    def model_names(self) -> list[str]:
        """Every model's name, sorted: what a mistyped name is matched against."""

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

    # -- whole-state transfer ---------------------------------------------------------
    @abstractmethod
    def dump(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ("model", row) for every model by name, then ("event", row) by id.

        Rows are plain JSON-ready dicts (timestamps as ISO-8601 strings with offset)."""

    # -- monitoring -----------------------------------------------------------------------
    @abstractmethod
    def stale_models(self, now: datetime) -> set[str]:
        """Production models whose last successful check is older than their max_age (or
        that never had one within max_age of their deployment)."""

    @abstractmethod
    def monitoring(self, model: str) -> dict[str, datetime | None] | None:
        """The model's monitoring clock: stale_at, last_ok_at, last_check_at; or None."""

    # -- the audit chain (each append links into it: store.unit.Events) ---------------------
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

    # -- the team -----------------------------------------------------------------------
    @abstractmethod
    def get_user(self, name: str) -> User | None:
        """Return the User called `name`, or None when the tool has never seen them."""

    @abstractmethod
    def inactive_users(self) -> set[str]:
        """Return the names of deactivated people (the models they own are orphaned)."""

    @abstractmethod
    def count_admins(self) -> int:
        """Return how many active admins there are (people: service accounts do not count)."""

    @abstractmethod
    def get_setting(self, key: str) -> Any:
        """The setting's value (decoded JSON), or None when it was never set."""

    @abstractmethod
    def settings(self) -> dict[str, tuple[Any, datetime, str]]:
        """Return key -> (value, when set, by whom) for every setting that was set."""

    @abstractmethod
    def database_user(self) -> str | None:
        """The database role of this connection (PostgreSQL), which no variable can spoof."""

    def act_as(self, role: str | None) -> None:
        """Act under the database role `role` from now on (None: the connection's own), so
        that a server acting for many people lets the database decide who acts. Raises
        PermissionDenied when the connection may not take that role, InvalidInput on a
        database without roles."""
        if role is not None:
            raise InvalidInput(f"{self.backend} has no database roles to act as")

    def roles_missing(self, roles: Iterable[str]) -> list[str]:
        """Those of `roles` this connection could not act as (all of them on a database
        without roles)."""
        return sorted(roles)

    @abstractmethod
    def links(self, kind: str) -> dict[str, str]:
        """Return model -> url for every model with a link of `kind`."""

    @abstractmethod
    def last_view(self, model: str, actor: str) -> tuple[datetime, int] | None:
        """Return (when, the newest event id then) of `actor`'s last look at `model`."""

    # -- time travel, approvals, webhooks ------------------------------------------------
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
    def events_by_id(self, ids: Iterable[int]) -> dict[int, Event]:
        """The events with these ids (missing ones left out)."""

    @abstractmethod
    def exposed_rows(self, models: Collection[str] | None = None) -> list[ExposedRow]:
        """Every model's exposed slice (or these models'), by name; health as stored, the
        staleness rule is the caller's."""

    @abstractmethod
    def last_ok_checks(self, models: Collection[str] | None = None) -> dict[str, datetime]:
        """Each model's (or these models') last check that got an answer, from the
        monitoring clocks."""

    @abstractmethod
    def checked_since(self, mark: datetime | None) -> tuple[set[str], datetime | None]:
        """(the models whose monitoring clock moved after `mark`, the newest check's time):
        what checks changed without changing anyone's health, so without an event."""

    @abstractmethod
    def last_deploys(self, models: Collection[str] | None = None) -> dict[str, datetime]:
        """Each model's (or these models') newest successful deployment or rollback:
        when it finished."""

    @abstractmethod
    def last_answered_checks(self, until: datetime) -> dict[str, datetime]:
        """Each model's newest check that got an answer, at or before `until` (the
        checks table): with the deploy time, what staleness was counted from then."""

    @abstractmethod
    def approval_rules(self) -> dict[str, int]:
        """Approvals required before production: model name (or "*", every model) -> N."""

    @abstractmethod
    def next_delivery(self, hook_id: int) -> tuple[Delivery, Event] | None:
        """The oldest undelivered event of the webhook: later ones wait behind it (order)."""

    @abstractmethod
    def attempts(
        self, *, webhook: int | None = None, model: str | None = None, limit: int | None = 50
    ) -> list[Attempt]:
        """Delivery attempts newest first, by webhook and the event's model; `limit`."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
