"""The TUI's only door to the data: the same services as the CLI, one call at a time.

Workers run on several threads, but a SQLite connection must never be used by two threads
at once, so every call goes through one lock. A call that may wait on something outside the
database (a health check probing a model) runs on a connection of its own instead, so the
board's polls never queue behind it. Reconnecting is the store's job; this layer only turns
the driver errors a store lets through into `StoreUnavailable`, so the app can show its
banner instead of a traceback.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from mlops_tui.domain import Alert, Event, Handoff, Model, Stage, User, Version
from mlops_tui.domain.mlflow import MlflowLink, MlflowVersion
from mlops_tui.errors import MlopsError, StoreUnavailable
from mlops_tui.services import lifecycle, queries, team
from mlops_tui.services.context import Context
from mlops_tui.store import Change, open_store, schema
from mlops_tui.store.base import Watch

if TYPE_CHECKING:
    # Imported where used, so opening the TUI does not load every service up front.
    from mlops_tui.services.approvals import Approval
    from mlops_tui.services.mlflow_bridge import Report
    from mlops_tui.services.monitoring import CheckOutcome, LoopSummary
    from mlops_tui.services.oncall import Review
    from mlops_tui.services.timetravel import ModelAt

T = TypeVar("T")

# Driver packages whose errors mean "the database is not usable right now".
_DRIVERS = ("sqlite3", "psycopg", "psycopg2")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the board and the models table show, read together."""

    head: int
    models: list[Model]
    left: frozenset[str] = frozenset()  # people who were deactivated: their models orphaned


@dataclass(frozen=True, slots=True)
class Detail:
    model: Model
    history: list[tuple[Event, str]]  # newest first, with what each event did
    versions: list[Version]  # newest first: what each was built from
    #: the versions that are MLflow versions, by number: their run, author and metrics
    mlflow: dict[int, MlflowVersion] = field(default_factory=dict)
    #: number here -> the MLflow aliases on it, as last seen
    aliases: dict[int, list[str]] = field(default_factory=dict)
    #: the registered model it is kept in step with, if any
    link: MlflowLink | None = None


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed on a model since its owner last looked at it."""

    model: Model
    seen: tuple[datetime, int] | None  # (when, the newest event id then), None: never looked
    events: list[tuple[Event, str]]  # newest first, with what each event did


def utc_now() -> datetime:
    return datetime.now(UTC)


class Backend:
    """A Context behind a lock. Every method blocks: call it from a thread worker."""

    def __init__(self, url: str, actor: str, clock: Callable[[], datetime] = utc_now) -> None:
        self.url = url
        self.actor = actor
        self.clock = clock
        self._ctx: Context | None = None
        self._broken = False
        self._closed = False
        self._lock = threading.Lock()

    @property
    def ctx(self) -> Context:
        """Opened on first use, so an unreachable database at start-up is a banner too."""
        if self._closed:
            raise StoreUnavailable("the app is closing")
        if self._ctx is None:
            store = open_store(self.url)
            self.actor = team.resolve_actor(store, self.actor)  # identity = "database"
            self._ctx = Context(store, self.actor, clock=self.clock)
        return self._ctx

    @property
    def location(self) -> str:
        return self._ctx.store.location if self._ctx else self.url

    def _call(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._broken:
                self._reopen()
            try:
                return fn()
            except StoreUnavailable:
                self._broken = True
                raise
            except MlopsError:
                raise
            except Exception as exc:
                if type(exc).__module__.split(".")[0] not in _DRIVERS:
                    raise
                self._broken = True
                raise StoreUnavailable(f"cannot use the database {self.location}: {exc}") from exc

    def _own(self, fn: Callable[[Context], T]) -> T:
        """Run `fn` on a connection of its own, outside the lock: for work that waits on
        the network, which must not hold up every other read. Its failures say nothing of
        the shared connection, so they do not mark it broken."""
        from mlops_tui.tui.session import own_context

        self._call(lambda: self.ctx)  # who is acting: resolved once, on the shared store
        try:
            with own_context(self) as ctx:
                return fn(ctx)
        except MlopsError:
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in _DRIVERS:
                raise
            raise StoreUnavailable(f"cannot use the database {self.location}: {exc}") from exc

    def _reopen(self) -> None:
        """Start over with a new connection after a failure: a SQLite connection that once
        read a damaged file keeps failing even after the file is repaired."""
        if self._ctx is not None:
            with contextlib.suppress(Exception):
                self._ctx.store.close()
            self._ctx = None
        self._broken = False

    def head(self) -> int:
        return self._call(lambda: queries.head(self.ctx))

    def snapshot(self) -> Snapshot:
        def read() -> Snapshot:
            # head first: a change landing between the two reads is seen again next poll.
            head = queries.head(self.ctx)
            return Snapshot(head, queries.models(self.ctx), frozenset(team.orphaned(self.ctx)))

        return self._call(read)

    def detail(self, name: str, limit: int = 100) -> Detail:
        def read() -> Detail:
            model = queries.model(self.ctx, name)
            events = queries.history(self.ctx, model=name, limit=limit)
            versions = queries.versions(self.ctx, name)
            mlflow, aliases = queries.mlflow_versions(self.ctx, name)
            link = self.ctx.store.row(schema.MLFLOW_LINKS, model=model.name)
            described = [(e, queries.describe(e)) for e in events]
            return Detail(model, described, versions, mlflow, aliases, link)

        return self._call(read)

    def move(
        self, name: str, stage: Stage, *, note: str | None, force: bool, revision: int
    ) -> Change:
        return self._call(
            lambda: lifecycle.move(
                self.ctx, name, stage, note=note, force=force, expected_revision=revision
            )
        )

    # -- time travel, approvals -------------------------------------------------------
    def timeline(self, name: str) -> list[ModelAt]:
        """The model after each event of its history, oldest first (time travel)."""
        from mlops_tui.services import timetravel

        return self._call(lambda: timetravel.timeline(self.ctx, name))

    def has_relays(self) -> bool:
        """Whether anything goes out after a write: webhooks, or MLflow aliases."""
        return self._call(
            lambda: (
                bool(self.ctx.store.rows(schema.WEBHOOKS, active=True, order="id"))
                or self.ctx.store.row(schema.MLFLOW_LINKS) is not None
            )
        )

    def pending_approvals(self, mine: bool = False) -> list[Approval]:
        """Versions waiting for approval; `mine`: only those this user may decide."""
        from mlops_tui.services import approvals

        return self._call(
            lambda: approvals.pending(self.ctx, for_user=self.actor if mine else None)
        )

    def approve(self, name: str, version: int, note: str | None = None) -> Event:
        from mlops_tui.services import approvals

        return self._call(lambda: approvals.approve(self.ctx, name, version, note))

    def reject(self, name: str, version: int, note: str | None) -> Event:
        from mlops_tui.services import approvals

        return self._call(lambda: approvals.reject(self.ctx, name, version, note))

    def mlflow_sync(self, name: str | None = None) -> list[Report]:
        """Bring the linked models' new MLflow versions and alias moves in (one model's,
        or every linked one's). MLflow can take seconds to answer, or not answer at all,
        hence a connection of its own: the board keeps polling meanwhile."""
        from mlops_tui.services import mlflow_bridge

        return self._own(lambda ctx: mlflow_bridge.sync(ctx, name))

    # -- test, deploy, health, alerts --------------------------------------------------
    def loop_summary(self, name: str) -> LoopSummary:
        """Sparkline series, thresholds, the last check, open alerts, last test/deploy."""
        from mlops_tui.services import monitoring

        return self._call(lambda: monitoring.summary(self.ctx, name))

    def check(self, name: str) -> CheckOutcome:
        """Check one production model now and record the outcome, as `mlops check NAME`.
        The probes can wait seconds on a model that does not answer, hence its own
        connection."""
        from mlops_tui.services import monitoring

        (outcome,) = self._own(lambda ctx: monitoring.check(ctx, name))
        return outcome

    def deploy_plan(self, name: str) -> str:
        """What `d` would deploy, and where, for its confirmation."""
        from mlops_tui.services import deploys

        def plan() -> str:
            deploys.deployable(queries.model(self.ctx, name))
            return deploys.describe_target(self.ctx, name)

        return self._call(plan)

    def rollback_plan(self, name: str) -> tuple[int, str]:
        """The version `R` would return to, and where, for its confirmation."""
        from mlops_tui.services import deploys

        def plan() -> tuple[int, str]:
            to = deploys.rollback_target(self.ctx, name)
            return to, deploys.describe_target(self.ctx, name, to)

        return self._call(plan)

    def alerts(self, include_resolved: bool = False) -> list[Alert]:
        from mlops_tui.services import monitoring

        return self._call(lambda: monitoring.alerts(self.ctx, include_resolved=include_resolved))

    def ack(self, alert_id: int, note: str | None = None) -> Alert:
        from mlops_tui.services import monitoring

        return self._call(lambda: monitoring.ack(self.ctx, alert_id, note))

    # -- the team: handoffs, on-call, what changed -----------------------------------------
    def inbox(self) -> list[Handoff]:
        """Handoffs waiting for me, oldest first."""
        from mlops_tui.services import handoffs

        return self._call(lambda: handoffs.pending(self.ctx, to=self.ctx.actor))

    def handoffs_of(self, name: str) -> list[Handoff]:
        from mlops_tui.services import handoffs

        return self._call(lambda: handoffs.pending(self.ctx, model=name))

    def receivers(self) -> list[User]:
        """Who can take a model over: active people who are not viewers."""
        return self._call(lambda: team.receivers(self.ctx))

    def hand_over(self, name: str, to: str, note: str | None) -> Handoff:
        from mlops_tui.services import handoffs

        return self._call(lambda: handoffs.request(self.ctx, name, to=to, note=note))

    def tick(self, handoff_id: int, items: list[str], done: bool) -> Handoff:
        from mlops_tui.services import handoffs

        return self._call(lambda: handoffs.tick(self.ctx, handoff_id, items, done=done))

    def accept(self, handoff_id: int) -> tuple[Handoff, Model]:
        from mlops_tui.services import handoffs

        return self._call(lambda: handoffs.accept(self.ctx, handoff_id))

    def decline(self, handoff_id: int, note: str) -> Handoff:
        from mlops_tui.services import handoffs

        return self._call(lambda: handoffs.decline(self.ctx, handoff_id, note=note))

    def oncall(self) -> list[Review]:
        from mlops_tui.services import oncall

        return self._call(lambda: oncall.review(self.ctx))

    def looked(self, model: Model) -> None:
        """The owner opened their model: "changes since the owner last looked" starts here."""
        self._call(lambda: team.looked(self.ctx, model))

    def changes(self, name: str) -> Changes:
        def read() -> Changes:
            model, seen, events = team.changes_since_owner_looked(self.ctx, name)
            return Changes(model, seen, [(e, queries.describe(e)) for e in events])

        return self._call(read)

    def watch(self) -> Watch | None:
        """A wait for other people's changes on a connection of its own, or None where the
        database cannot tell (SQLite) or cannot be reached now (the poll will say so)."""
        try:
            with self._lock:
                store = self.ctx.store
            # Its own connection: a failure here says nothing of the store the polls use.
            return store.watch()
        except MlopsError:
            return None

    def close(self) -> None:
        """For good: a poll still in flight must not open a new connection after this."""
        with self._lock:
            self._closed = True
            if self._ctx is not None:
                self._ctx.store.close()
                self._ctx = None
