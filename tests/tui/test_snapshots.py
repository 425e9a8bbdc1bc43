"""How the screens look, on the demo team at a fixed time. The main views at the two sizes
they must fit (80x24, 120x35); the rest at 100x30."""

from __future__ import annotations

import pytest

from mlops_tui.services import handoffs
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.inbox import InboxScreen
from mlops_tui.tui.screens.oncall import OncallScreen
from mlops_tui.tui.screens.timetravel import TimeTravelScreen
from tests.tui.helpers import NOW, loaded, make_app, offer_to_tester, wait_for

SIZE = (100, 30)
SIZES = pytest.mark.parametrize(
    "size", [(80, 24), (120, 35)], ids=lambda size: f"{size[0]}x{size[1]}"
)


@SIZES
def test_board_at(snap_compare, demo_db, size):
    assert snap_compare(make_app(demo_db), terminal_size=size, run_before=loaded)


@SIZES
def test_models_at(snap_compare, demo_db, size):
    assert snap_compare(make_app(demo_db, mode="models"), terminal_size=size, run_before=loaded)


@SIZES
def test_oncall_at(snap_compare, demo_db, size):
    async def run_before(pilot) -> None:
        await loaded(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, OncallScreen)
        await wait_for(pilot, lambda: bool(screen.rows))
        await pilot.pause()

    app = make_app(demo_db, mode="oncall")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
def test_time_travel_at(snap_compare, demo_db, size):
    async def run_before(pilot) -> None:
        await loaded(pilot)
        pilot.app.push_screen(TimeTravelScreen("demand-forecast"))
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.selected is not None)
        await pilot.press("home")  # the first event: the panel says what is different now
        await wait_for(pilot, lambda: screen.selected is screen.steps[0])
        await pilot.pause()

    assert snap_compare(make_app(demo_db), terminal_size=size, run_before=run_before)


@SIZES
def test_inbox_at(snap_compare, demo_db, size):
    handoff_id, _ = offer_to_tester(demo_db)
    with open_store(demo_db) as store:  # one item ticked: both marks show
        tester = Context(store, "tester", clock=lambda: NOW)
        handoffs.tick(tester, handoff_id, ["runbook"])

    async def run_before(pilot) -> None:
        await loaded(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, InboxScreen)
        await wait_for(pilot, lambda: bool(screen.handoffs))
        await pilot.pause()

    app = make_app(demo_db, mode="inbox")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_models_filtered(snap_compare, demo_db):
    async def run_before(pilot) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"eu")

    assert snap_compare(make_app(demo_db, mode="models"), terminal_size=SIZE, run_before=run_before)


def test_detail(snap_compare, demo_db):
    async def run_before(pilot) -> None:
        await loaded(pilot)
        await pilot.press("l", "enter")
        screen = pilot.app.screen
        assert isinstance(screen, DetailScreen)
        await wait_for(pilot, lambda: screen.model is not None)
        await pilot.pause()

    assert snap_compare(make_app(demo_db), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, demo_db):
    async def run_before(pilot) -> None:
        await loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(demo_db), terminal_size=SIZE, run_before=run_before)


def test_move(snap_compare, demo_db):
    async def run_before(pilot) -> None:
        await loaded(pilot)
        await pilot.press("l", "l", "m", "up")

    assert snap_compare(make_app(demo_db), terminal_size=SIZE, run_before=run_before)
