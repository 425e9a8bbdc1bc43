"""The board: columns per stage, keyboard and mouse selection, opening a model."""

from __future__ import annotations

from mlops_tui.domain import STAGES
from mlops_tui.services import queries
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.screens.board import BoardScreen
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.widgets.board.card import ModelCard
from mlops_tui.tui.widgets.board.column import StageColumn
from tests.tui.helpers import async_test, loaded, make_app, wait_for


def _stages_in_db(db: str) -> dict[str, list[str]]:
    with open_store(db) as store:
        models = queries.models(Context(store, "reader"))
    out: dict[str, list[str]] = {s.value: [] for s in STAGES}
    for m in models:
        out[m.stage.value].append(m.name)
    return out


@async_test
async def test_each_stage_is_a_column_with_its_count_and_cards(demo_db):
    expected = _stages_in_db(demo_db)
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        columns = list(app.screen.query(StageColumn))
        assert [c.stage.value for c in columns] == [s.value for s in STAGES]
        for column in columns:
            names = sorted(card.model.name for card in column.cards)
            assert names == sorted(expected[column.stage.value])
            header = str(column.query_one(".column-header").render())
            assert f"{column.stage.value.capitalize()}  {len(names)}" in header


@async_test
async def test_card_shows_name_owner_versions_and_health(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        shown = {
            card.model.name: (card.model, str(card.render()))
            for card in app.screen.query(ModelCard)
        }
        for m, text in shown.values():
            assert m.name in text and m.owner in text and m.health.value in text
        # Versions in words, not `v6/v4` or `-/-`.
        assert "v6 · prod v4" in shown["demand-forecast"][1]
        assert "v3 · in prod" in shown["credit-scorer"][1]
        assert "v3 · not in prod" in shown["churn-predictor-eu"][1]
        assert "no version yet" in shown["churn-predictor"][1]
        assert not any("/" in text for _, text in shown.values())


@async_test
async def test_arrows_and_vim_keys_move_the_selection_and_enter_opens(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        plan, build = list(screen.query(StageColumn))[:2]
        assert screen.focused is plan.cards[0]
        await pilot.press("l")
        assert screen.focused is build.cards[0]
        await pilot.press("j")
        assert screen.focused is build.cards[1]
        await pilot.press("down")
        assert screen.focused is build.cards[2]
        await pilot.press("k", "left")
        assert screen.focused is plan.cards[1]
        await pilot.press("right", "up", "h")
        assert screen.focused is plan.cards[0]
        chosen = plan.cards[0].model.name
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen) and detail.model_name == chosen
        await wait_for(pilot, lambda: detail.model is not None)
        await pilot.press("escape")
        assert app.screen is screen
        assert screen.focused is plan.cards[0]


@async_test
async def test_click_selects_a_card_and_double_click_opens_it(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        card = app.screen.query_one("#column-test", StageColumn).cards[1]
        await pilot.click(card)
        assert app.screen.focused is card
        await pilot.double_click(card)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.model_name == card.model.name


@async_test
async def test_number_keys_switch_between_board_and_models(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("2")
        assert app.current_mode == "models"
        await pilot.press("1")
        assert app.current_mode == "board"
        assert isinstance(app.screen, BoardScreen)


@async_test
async def test_q_quits(demo_db):
    app = make_app(demo_db)
    async with app.run_test() as pilot:
        await loaded(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
