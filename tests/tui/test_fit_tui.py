"""What a user notices at 80x24 and 120x35: nothing that matters is cut, names that share
a prefix stay apart, and the palette offers each thing once."""

from __future__ import annotations

import re

from textual.command import CommandList, CommandPalette

from mlops_tui.services import team
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.screens.oncall import OncallScreen
from mlops_tui.tui.screens.timetravel import TimeTravelScreen
from mlops_tui.tui.widgets.board.card import ModelCard
from mlops_tui.tui.widgets.detail.moment import FIELDS
from tests.tui.helpers import async_test, loaded, make_app, screen_text, wait_for

WIDE = (120, 35)
NARROW = (80, 24)


def orphaned_owners(db: str) -> dict[str, str]:
    """model -> owner, for the models whose owner left."""
    with open_store(db) as store:
        left = team.orphaned(Context(store, "reader"))
        return {m.name: m.owner for m in store.list_models() if m.owner in left}


def row_of(text: str, name: str) -> str:
    """The screen line showing model `name` (whole, as a word of its own)."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
    return next(line for line in text.splitlines() if pattern.search(line))


@async_test
async def test_models_at_120_columns_show_the_owner_and_its_orphaned_flag_whole(demo_db):
    orphaned = orphaned_owners(demo_db)
    assert orphaned, "the demo has a leaver"
    app = make_app(demo_db, mode="models")
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot)
        text = screen_text(app)
        for name, owner in orphaned.items():
            if name in text:
                assert f"{owner} (orphaned)" in row_of(text, name)


@async_test
async def test_oncall_shows_why_a_model_needs_attention_at_both_sizes(demo_db):
    orphaned = orphaned_owners(demo_db)
    for size in (WIDE, NARROW):
        app = make_app(demo_db, mode="oncall")
        async with app.run_test(size=size) as pilot:
            await loaded(pilot)
            screen = app.screen
            assert isinstance(screen, OncallScreen)
            await wait_for(pilot, lambda s=screen: bool(s.rows))
            await pilot.pause()
            text = screen_text(app)
            header = next(line for line in text.splitlines() if line.lstrip().startswith("Model "))
            for column in ("Model", "Health", "Needs", "Owner"):
                assert column in header, (size, header)
            for review in screen.rows:
                if review.model.name in orphaned and review.model.name in text:
                    line = row_of(text, review.model.name)
                    assert "orphaned (" in line  # the reason, where it starts
                    assert f"{review.model.owner} orphaned" in line  # the owner, whole
            if size == WIDE:  # room for the whole reason of the most urgent model
                first = screen.rows[0]
                assert ", ".join(first.problems) in row_of(text, first.model.name)


@async_test
async def test_names_that_share_a_prefix_differ_on_the_board_at_80_columns(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=NARROW) as pilot:
        await loaded(pilot)
        cards = {c.model.name: c for c in app.screen.query(ModelCard)}
        shown = {
            name: str(cards[name].render()).splitlines()[0]
            for name in ("churn-predictor", "churn-predictor-eu")
        }
        assert shown["churn-predictor"] != shown["churn-predictor-eu"]
        assert shown["churn-predictor-eu"].endswith("-eu")  # what tells them apart
        assert all(label.startswith("churn") for label in shown.values())
        text = screen_text(app)
        assert all(label in text for label in shown.values())


@async_test
async def test_board_cards_say_versions_in_words_at_both_sizes(demo_db):
    for size in (WIDE, NARROW):
        app = make_app(demo_db)
        async with app.run_test(size=size) as pilot:
            await loaded(pilot)
            text = screen_text(app)
            assert "-/-" not in text and "prod v" in text and "no version" in text


@async_test
async def test_time_travel_labels_are_whole_at_both_sizes(demo_db):
    for size in (WIDE, NARROW):
        app = make_app(demo_db)
        async with app.run_test(size=size) as pilot:
            await loaded(pilot)
            app.push_screen(TimeTravelScreen("demand-forecast"))
            screen = app.screen
            assert isinstance(screen, TimeTravelScreen)
            await wait_for(pilot, lambda s=screen: s.selected is not None)
            await pilot.press("home")  # the first event: most fields differ from now
            await wait_for(pilot, lambda s=screen: s.selected is s.steps[0])
            await pilot.pause()
            text = screen_text(app)
            for label, _ in FIELDS:
                assert re.search(rf"\b{label}\b", text), (size, label)
            assert "now test" in text  # the stage it is in now, beside the one then
            header = next(line for line in text.splitlines() if " what" in line)
            assert "at" in header and "by" in header


@async_test
async def test_the_palette_offers_one_theme_entry(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        commands = palette.query_one(CommandList)
        await wait_for(pilot, lambda: commands.option_count > 0)
        await pilot.pause(0.3)
        names = [
            str(commands.get_option_at_index(i).prompt).split("\n")[0]
            for i in range(commands.option_count)
        ]
        for word in ("Theme", "Quit", "Keys"):
            assert len([n for n in names if word in n]) == 1, names
        await pilot.press(*"theme")
        await pilot.pause(0.3)
        assert commands.option_count == 1


@async_test
async def test_alerts_show_what_fired_at_both_sizes(demo_db):
    from mlops_tui.tui.screens.alerts import AlertsScreen

    for size in (WIDE, NARROW):
        app = make_app(demo_db, mode="alerts")
        async with app.run_test(size=size) as pilot:
            await loaded(pilot)
            screen = app.screen
            assert isinstance(screen, AlertsScreen)
            await wait_for(pilot, lambda s=screen: bool(s.alerts))
            await pilot.pause()
            text = screen_text(app)
            header = next(line for line in text.splitlines() if line.lstrip().startswith("Alert "))
            for column in ("Model", "Status", "Detail"):
                assert column in header, (size, header)
            alert = screen.alerts[0]
            assert alert.model in row_of(text, alert.model)
