"""The models table: filter as you type, sort, open, move."""

from __future__ import annotations

from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.models import ModelsScreen
from mlops_tui.tui.screens.move import MoveScreen
from mlops_tui.tui.widgets.models.table import ModelTable
from tests.tui.helpers import async_test, loaded, make_app, wait_for


def status(app) -> str:
    return str(app.screen.query_one("#models-status").render())


@async_test
async def test_slash_filters_as_you_type_by_name_owner_stage_or_tag(demo_db):
    app = make_app(demo_db, mode="models")
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(ModelTable)
        assert table.shown == table.total == 24
        await pilot.press("slash", *"fraud")
        assert table.names() == ["fraud-detector", "fraud-detector-eu"]
        assert "2 of 24 models matching 'fraud'" in status(app)
        await pilot.press(*["backspace"] * 5, *"nlp")  # a tag
        models = {r.model.name: r.model for r in table._view}
        assert models and all("nlp" in m.tags for m in models.values())
        await pilot.press(*["backspace"] * 3, *"monitor")  # a stage
        assert {r.model.stage.value for r in table._view} == {"monitor"}
        await pilot.press("enter")  # back to the table, filter kept
        assert app.screen.focused is table and table.shown < 24
        await pilot.press("escape")  # clears the filter
        assert table.shown == 24


@async_test
async def test_s_sorts_and_a_header_click_sorts_by_that_column(demo_db):
    app = make_app(demo_db, mode="models")
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(ModelTable)
        assert table.names() == sorted(table.names())
        await pilot.press("s")  # next column: stage
        stages = [r.model.stage.position for r in table._view]
        assert stages == sorted(stages) and "sorted by stage" in status(app)
        await pilot.press("S")
        assert [r.model.stage.position for r in table._view] == sorted(stages, reverse=True)
        await pilot.click(table, offset=(2, 0))  # the Name header
        assert table.names() == sorted(table.names())


@async_test
async def test_keys_move_the_cursor_enter_opens_escape_returns_m_moves(demo_db):
    app = make_app(demo_db, mode="models")
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        screen = app.screen
        table = screen.query_one(ModelTable)
        names = table.names()
        await pilot.press("j", "down", "k")
        assert table.current.name == names[1]
        await pilot.press("G")
        assert table.current.name == names[-1]
        await pilot.press("g", "enter")
        assert isinstance(app.screen, DetailScreen) and app.screen.model_name == names[0]
        await pilot.press("escape")
        assert app.screen is screen and isinstance(screen, ModelsScreen)
        await pilot.press("m")
        assert isinstance(app.screen, MoveScreen) and app.screen.model.name == names[0]


@async_test
async def test_click_selects_a_row_and_double_click_opens_it(demo_db):
    app = make_app(demo_db, mode="models")
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        table = app.screen.query_one(ModelTable)
        third = table.names()[2]
        await pilot.click(table, offset=(5, 3))
        assert table.current.name == third
        await pilot.double_click(table, offset=(5, 3))
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.model_name == third
