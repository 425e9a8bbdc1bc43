"""The persistence contract that both backends honour, so services never know which one runs.

Every write method is one transaction that changes the state *and* appends its event:
either both land or neither does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from mlops_tui.domain import Event, Model, NewEvent, Stage


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
    """Shared state: models and their append-only history."""

    #: "sqlite" or "postgresql"
    backend: str
    #: where the data lives, safe to print (no password)
    location: str

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

    # -- the team: people, handoffs, settings, audit chain (issue 6) --------------------

    # -- approvals, webhooks, clean-up (issue 8) ------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
