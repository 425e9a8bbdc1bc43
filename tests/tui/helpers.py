"""Shared pieces of the TUI tests: demo data at a fixed time, and waiting on the app."""

from __future__ import annotations

import asyncio
import functools
import io
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from textual.pilot import Pilot

from mlops_tui.domain import HandoffStatus
from mlops_tui.services import handoffs, team
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from mlops_tui.tui.app import MlopsApp

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def fixed_now() -> datetime:
    return NOW


def make_app(db: str, **kwargs: Any) -> MlopsApp:
    return MlopsApp(db, actor="tester", clock=fixed_now, **kwargs)


def async_test(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test without an asyncio plugin for pytest."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 3.0
) -> float:
    """Let the app run until `condition()` holds; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true after {timeout} s: {condition}")
        await pilot.pause(0.02)
    return time.monotonic() - start


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait until the first data is on screen."""
    app = pilot.app
    assert isinstance(app, MlopsApp)
    await wait_for(pilot, lambda: app.snapshot is not None)
    await pilot.pause()
    await pilot.pause()


def text_of(widget: Any, width: int = 200) -> str:
    """The plain text a Static shows, whatever it was given (a string, Text or a table)."""
    from rich.console import Console

    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def screen_text(app: MlopsApp) -> str:
    """The terminal as a user sees it now, as plain text, one line per row: what a
    snapshot shows, for asserting on what is (or is not) cut."""
    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width, height=height, record=True, color_system=None, file=io.StringIO()
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def offer_to_tester(db: str, name: str | None = None) -> tuple[int, str]:
    """amara (the demo's admin) offers tester a model (`name`, or one with no handoff)."""
    with open_store(db) as store:
        lead = Context(store, "amara", clock=lambda: NOW)
        if store.get_user("tester") is None:
            team.add_user(lead, "tester", role="maintainer")
        model = next(
            m
            for m in store.list_models()
            if (name is None or m.name == name)
            and not store.rows(
                schema.HANDOFFS, model=m.name, status=HandoffStatus.PENDING, order="id"
            )
        )
        h = handoffs.request(lead, model.name, to="tester", note="please take it")
        return h.id, model.name
