"""One run's life, shared by builds, test runs and deployments.

A run is recorded when it starts (running, on this host, by this process) and finished
once, with the tail of its log and an event. In between its output streams line by line to
whoever watches (a terminal, the TUI's log) while the last `LOG_TAIL` lines are kept for the
record. However it ends, it is recorded: done, failed with the error's own words, cancelled,
or interrupted from the keyboard. A run still marked running whose process on this machine
is gone reads as interrupted to every reader (`as_seen`: reading never writes), and the
next write use case on its model records it so (`reap_interrupted`, under that use case's
grant).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import socket
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from mlops_tui.domain import (
    BUILD_FINISHED,
    DEPLOY_FINISHED,
    TEST_FINISHED,
    Build,
    BuildStatus,
    Deployment,
    Model,
    NewEvent,
    RunStatus,
    TestRun,
)
from mlops_tui.errors import Conflict, MlopsError, NotFound
from mlops_tui.services.context import Context
from mlops_tui.store import Change, Store, schema
from mlops_tui.store.schema import Table
from mlops_tui.store.unit import Tx

#: the lines of a run's log its record keeps
LOG_TAIL = 200

R = TypeVar("R", Build, TestRun, Deployment)
T = TypeVar("T")


@dataclass(frozen=True)
class Kind(Generic[R]):
    """What differs between builds, test runs and deployments, for the parts they share."""

    table: Table[R]
    #: the field of its events that names the run
    key: str
    #: the error a run whose process died is recorded with
    died: str
    #: the event its end appends
    finished: str
    interrupted: StrEnum
    #: this model's runs still marked running
    running: Callable[[Store, str], list[R]]


BUILDS: Kind[Build] = Kind(
    schema.BUILDS,
    "build",
    "the process running this build died",
    BUILD_FINISHED,
    BuildStatus.INTERRUPTED,
    lambda store, model: store.rows(schema.BUILDS, model=model, status=BuildStatus.RUNNING),
)
TEST_RUNS: Kind[TestRun] = Kind(
    schema.TEST_RUNS,
    "test_run",
    "the process running these tests died",
    TEST_FINISHED,
    RunStatus.INTERRUPTED,
    lambda store, model: store.rows(schema.TEST_RUNS, model=model, status=RunStatus.RUNNING),
)
DEPLOYMENTS: Kind[Deployment] = Kind(
    schema.DEPLOYMENTS,
    "deployment",
    "the process running this deployment died",
    DEPLOY_FINISHED,
    RunStatus.INTERRUPTED,
    lambda store, model: store.rows(schema.DEPLOYMENTS, model=model, status=RunStatus.RUNNING),
)

#: what a run's end changes besides the run (a build's version, a deployment's production
#: version): given the transaction, the run as finished and its event; returns the model
#: as stored
Then = Callable[[Tx, R, NewEvent], Model]


# -- recording it ----------------------------------------------------------------------------
def start(ctx: Context, kind: Kind[R], values: Mapping[str, Any], event: NewEvent) -> R:
    """Record a run of `values["model"]` as running from the event's time, by the actor
    (with the model held: NotFound when there is none), and its event."""
    with ctx.store.transaction() as tx:
        run = tx.runs(kind.table).start({"started_at": event.at, "actor": ctx.actor, **values})
        tx.events.append(event.add(**{kind.key: run.id, "version": run.version}))
    return run


def finish(
    ctx: Context,
    kind: Kind[R],
    run_id: int,
    changes: Mapping[str, Any],
    event: NewEvent,
    then: Then[R] | None = None,
) -> tuple[R, Change]:
    """End a running run with `changes` (its status among them) at the event's time, and
    append the event naming the run, its version and how it ended. Raises NotFound, or
    Conflict when it has already ended."""
    with ctx.store.transaction() as tx:
        run = tx.runs(kind.table).finish(run_id, {"finished_at": event.at, **changes})
        event = event.add(**{kind.key: run.id, "version": run.version, "status": str(run.status)})
        model = then(tx, run, event) if then is not None else tx.models.get(name=run.model)
        if model is None:
            raise NotFound(f"no model named {run.model!r}")
        return run, Change(model, tx.events.append(event))


_KINDS: dict[type, Kind[Any]] = {Build: BUILDS, TestRun: TEST_RUNS, Deployment: DEPLOYMENTS}


# -- who runs it, and whether it still runs --------------------------------------------------
def here() -> tuple[str, int]:
    """Who is running this, so a run whose process died can be told apart."""
    return socket.gethostname(), os.getpid()


def alive(run: Build | TestRun | Deployment) -> bool:
    """False only for a run started on this machine whose process is gone."""
    if run.host != socket.gethostname() or run.pid is None or run.pid == os.getpid():
        return True
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def as_seen(run: R) -> R:
    """A run as a reader should see it: one still marked running whose process on this
    machine is gone reads as interrupted. Reading never writes; the next write use case on
    the model records it."""
    if run.status != "running" or alive(run):
        return run
    kind = _KINDS[type(run)]
    status = type(run.status)(kind.interrupted.value)  # the run's own status type
    return dataclasses.replace(run, status=status, error=kind.died)


def reap_interrupted(ctx: Context, kind: Kind[R], model: str) -> int:
    """Record as interrupted this machine's runs of `model` whose process is gone; returns
    how many. Part of a write use case on the model, under its grant."""
    reaped = 0
    for run in kind.running(ctx.store, model):
        if alive(run):
            continue
        ended = {"status": kind.interrupted, "error": kind.died, "log_tail": run.log_tail}
        try:
            finish(ctx, kind, run.id, ended, ctx.event(kind.finished, run.model))
        except Conflict:
            continue  # another process recorded it first
        reaped += 1
    return reaped


# -- its log, and how it ends ----------------------------------------------------------------
class Log:
    """A run's output as it streams: each line passed on, the last LOG_TAIL kept."""

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self.on_line = on_line
        self._tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)

    def say(self, line: str) -> None:
        self._tail.append(line)
        if self.on_line is not None:
            self.on_line(line)

    def follow(self, lines: Generator[str, None, T]) -> T:
        """Say every line `lines` yields; returns what it returns when it ends."""
        while True:
            try:
                line = next(lines)
            except StopIteration as stop:
                result: T = stop.value
                return result
            self.say(line)

    @property
    def tail(self) -> str:
        return "\n".join(self._tail)


@contextmanager
def recorded(
    finish: Callable[[Any, str], object],
    *,
    failed: StrEnum,
    cancelled: StrEnum,
    cancels: tuple[type[MlopsError], ...] = (),
) -> Iterator[None]:
    """Record how a run ends when it ends by an exception, which then goes on: `cancels`
    and Ctrl+C as cancelled, any other expected error as failed in its own words, anything
    else as failed with its type."""
    try:
        yield
    except cancels as exc:
        finish(cancelled, exc.message)
        raise
    except KeyboardInterrupt:
        finish(cancelled, "interrupted from the keyboard")
        raise
    except MlopsError as exc:
        finish(failed, exc.message)
        raise
    except BaseException as exc:
        finish(failed, f"{type(exc).__name__}: {exc}")
        raise
