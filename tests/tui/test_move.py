"""Moving a model from the keyboard: what lands in the database, what is refused, races."""

from __future__ import annotations

from mlops_tui.domain import Stage
from mlops_tui.services import lifecycle, queries
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.screens.board import BoardScreen
from mlops_tui.tui.screens.confirm import ConfirmScreen
from mlops_tui.tui.screens.move import MoveScreen
from mlops_tui.tui.widgets.board.column import StageColumn
from tests.tui.helpers import async_test, loaded, make_app, wait_for


def read(db: str, name: str):
    with open_store(db) as store:
        ctx = Context(store, "reader")
        return queries.model(ctx, name), queries.history(ctx, model=name, limit=1)[0]


def titles(app) -> list[str]:
    return [n.title for n in app._notifications]


async def select(pilot, stage: str, row: int = 0) -> str:
    """Select a card by keyboard: go to the column of `stage`, then down `row` cards."""
    screen = pilot.app.screen
    assert isinstance(screen, BoardScreen)
    columns = [c.stage.value for c in screen.query(StageColumn)]
    await pilot.press(*["l"] * columns.index(stage), *["j"] * row)
    return screen.selected_model.name


@async_test
async def test_a_forward_move_from_the_keyboard_lands_in_the_database_and_history(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "plan")
        before, _ = read(demo_db, name)
        await pilot.press("m")
        assert isinstance(app.screen, MoveScreen)
        await pilot.press("enter")  # the next stage is highlighted first
        await wait_for(pilot, lambda: not isinstance(app.screen, MoveScreen))
        model, event = read(demo_db, name)
        assert model.stage == Stage.BUILD and model.revision == before.revision + 1
        assert (event.kind, event.actor, event.data["to"]) == ("stage.moved", "tester", "build")
        assert "Moved" in titles(app)
        build = app.screen.query_one("#column-build", StageColumn)
        await wait_for(pilot, lambda: name in [c.model.name for c in build.cards])
        assert app.screen.selected_model.name == name  # the selection follows the card


@async_test
async def test_rework_without_a_note_is_refused_with_a_notification_and_changes_nothing(
    demo_db,
):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "test")
        before, last = read(demo_db, name)
        await pilot.press("m", "up", "enter")  # test -> build, no note
        await wait_for(pilot, lambda: "Move refused" in titles(app))
        assert isinstance(app.screen, MoveScreen)  # still open, to add the note
        after, still_last = read(demo_db, name)
        assert after == before and still_last == last


@async_test
async def test_rework_with_a_note_asks_to_confirm_then_records_the_note(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "test")
        await pilot.press("m", "up", "tab", *"flaky holdout", "enter")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # changed my mind: nothing is written
        assert isinstance(app.screen, MoveScreen)
        assert read(demo_db, name)[0].stage == Stage.TEST
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen))
        model, event = read(demo_db, name)
        assert model.stage == Stage.BUILD
        assert event.data["move"] == "rework" and event.data["note"] == "flaky holdout"


@async_test
async def test_skipping_ahead_is_forced_after_confirming(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "plan")
        await pilot.press("m", "down", "down", "tab", *"hotfix", "enter", "y")  # plan -> deploy
        await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen))
        model, event = read(demo_db, name)
        assert model.stage == Stage.DEPLOY and event.data["move"] == "forced"


@async_test
async def test_a_teammates_change_since_the_picker_opened_is_a_conflict(demo_db):
    app = make_app(demo_db, poll_interval=3600)  # no refresh: the screen stays stale
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "plan")
        await pilot.press("m")
        with open_store(demo_db) as other:
            lifecycle.move(Context(other, "teammate"), name, "build")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Conflict" in titles(app))
        model, event = read(demo_db, name)
        assert model.stage == Stage.BUILD and event.actor == "teammate"
        assert not isinstance(app.screen, MoveScreen)


@async_test
async def test_escape_cancels_the_picker(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "plan")
        before, _ = read(demo_db, name)
        await pilot.press("m", "escape")
        assert isinstance(app.screen, BoardScreen)
        assert read(demo_db, name)[0] == before
