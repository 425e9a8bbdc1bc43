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
