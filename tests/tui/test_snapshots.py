"""How the main screens look, on the demo team at a fixed time (100x30)."""

from __future__ import annotations

from mlops_tui.tui.screens.detail import DetailScreen
from tests.tui.helpers import loaded, make_app, wait_for

SIZE = (100, 30)


def test_board(snap_compare, demo_db):
    assert snap_compare(make_app(demo_db), terminal_size=SIZE, run_before=loaded)


def test_board_at_80x24(snap_compare, demo_db):
    assert snap_compare(make_app(demo_db), terminal_size=(80, 24), run_before=loaded)


def test_models(snap_compare, demo_db):
    assert snap_compare(make_app(demo_db, mode="models"), terminal_size=SIZE, run_before=loaded)


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
