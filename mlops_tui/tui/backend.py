"""The TUI's only door to the data: the same services as the CLI, one call at a time.

Workers run on several threads, but a SQLite connection must never be used by two threads
at once, so every call goes through one lock. Reconnecting is the store's job; this layer
only turns the driver errors a store lets through into `StoreUnavailable`, so the app can
show its banner instead of a traceback.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from mlops_tui.domain import Event, MlopsError, Model, Stage, StoreUnavailable, Version
from mlops_tui.services import lifecycle, queries
from mlops_tui.services.context import Context
from mlops_tui.store import Change, open_store

T = TypeVar("T")

# Driver packages whose errors mean "the database is not usable right now".
_DRIVERS = ("sqlite3", "psycopg", "psycopg2")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the board and the models table show, read together."""

    head: int
    models: list[Model]


@dataclass(frozen=True, slots=True)
class Detail:
    model: Model
    history: list[tuple[Event, str]]  # newest first, with what each event did
    versions: list[Version]  # newest first: what each was built from


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
            self._ctx = Context(open_store(self.url), self.actor, clock=self.clock)
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
            return Snapshot(head, queries.models(self.ctx))

        return self._call(read)

    def detail(self, name: str, limit: int = 100) -> Detail:
        def read() -> Detail:
            model = queries.model(self.ctx, name)
            events = queries.history(self.ctx, model=name, limit=limit)
            versions = queries.versions(self.ctx, name)
            return Detail(model, [(e, queries.describe(e)) for e in events], versions)

        return self._call(read)

    def move(
        self, name: str, stage: Stage, *, note: str | None, force: bool, revision: int
    ) -> Change:
        return self._call(
            lambda: lifecycle.move(
                self.ctx, name, stage, note=note, force=force, expected_revision=revision
            )
        )

    def close(self) -> None:
        """For good: a poll still in flight must not open a new connection after this."""
        with self._lock:
            self._closed = True
            if self._ctx is not None:
                self._ctx.store.close()
                self._ctx = None
