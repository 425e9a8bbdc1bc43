"""Moving a model from the keyboard: what lands in the database, what is refused, races."""

from __future__ import annotations

from textual.widgets import Static

from mlops_tui.domain import Stage
from mlops_tui.services import lifecycle, queries
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.screens.board import BoardScreen
from mlops_tui.tui.screens.confirm import ConfirmScreen
from mlops_tui.tui.screens.move import MoveScreen
from mlops_tui.tui.screens.prompt import PromptScreen
from mlops_tui.tui.widgets.board.card import ModelCard
from mlops_tui.tui.widgets.board.column import StageColumn
from tests.tui.helpers import async_test, loaded, make_app, text_of, wait_for


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


def prompt_text(app) -> str:
    screen = app.screen
    assert isinstance(screen, PromptScreen)
    return " ".join(text_of(w) for w in screen.query(Static) if w.display)


def no_flags(text: str) -> None:
    """The TUI speaks keys and dialogs, never the command line's flags or commands."""
    assert "--" not in text and "mlops " not in text, text


@async_test
async def test_rework_without_a_note_asks_for_one_then_records_it(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "test")
        before, last = read(demo_db, name)
        await pilot.press("m", "up", "enter")  # test -> build, no note typed
        assert isinstance(app.screen, PromptScreen)
        asked = prompt_text(app)
        assert "back from test to build" in asked and "say why" in asked
        no_flags(asked)
        await pilot.press("enter")  # still nothing: the prompt stays and says why
        assert isinstance(app.screen, PromptScreen)
        assert "needs a note" in prompt_text(app)
        assert read(demo_db, name) == (before, last)
        await pilot.press(*"flaky holdout", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen))
        model, event = read(demo_db, name)
        assert model.stage == Stage.BUILD
        assert event.data["move"] == "rework" and event.data["note"] == "flaky holdout"
        assert "Move refused" not in titles(app)


@async_test
async def test_escape_on_the_note_goes_back_to_the_picker_and_changes_nothing(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "test")
        before = read(demo_db, name)
        await pilot.press("m", "up", "enter", "escape")
        assert isinstance(app.screen, MoveScreen)
        assert read(demo_db, name) == before


@async_test
async def test_skipping_ahead_without_a_note_asks_for_one(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = await select(pilot, "plan")
        await pilot.press("m", "down", "down", "enter")  # plan -> deploy
        assert isinstance(app.screen, PromptScreen)
        assert "skipping stages" in prompt_text(app)
        no_flags(prompt_text(app))
        await pilot.press(*"hotfix", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen))
        model, event = read(demo_db, name)
        assert model.stage == Stage.DEPLOY
        assert (event.data["move"], event.data["note"]) == ("forced", "hotfix")


@async_test
async def test_a_gate_refusal_offers_the_move_forced_with_a_note(demo_db):
    with open_store(demo_db) as store:
        unbuilt = next(
            m.name for m in store.list_models() if m.stage == Stage.BUILD and m.version is None
        )
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        for card in app.screen.query(ModelCard):
            if card.model.name == unbuilt:
                card.focus()
        await pilot.pause()
        before = read(demo_db, unbuilt)
        await pilot.press("m", "enter")  # build -> test: the gate wants a build
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        offer = prompt_text(app)
        assert f"{unbuilt} cannot go to test" in offer and "anyway" in offer
        assert "forced" in offer
        no_flags(offer)
        assert read(demo_db, unbuilt) == before
        await pilot.press(*"built by hand", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen))
        model, event = read(demo_db, unbuilt)
        assert model.stage == Stage.TEST
        assert event.data["move"] == "forced" and event.data["note"] == "built by hand"
        assert event.data["gate"]  # what was missing, kept in the history


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
async def test_skipping_ahead_with_a_note_is_forced_after_confirming(demo_db):
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
