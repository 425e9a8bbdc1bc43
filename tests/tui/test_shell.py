"""What every screen shares: the detail view, help from the bindings, the palette, themes."""

from __future__ import annotations

import json
import os

from textual.command import CommandPalette

from mlops_tui import config
from mlops_tui.services import queries
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.screens.board import BoardScreen
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.help import HelpScreen
from mlops_tui.tui.screens.models import ModelsScreen
from mlops_tui.tui.screens.move import MoveScreen
from mlops_tui.tui.widgets.detail.timeline import Timeline
from tests.tui.helpers import async_test, loaded, make_app, text_of, wait_for


def help_text(app) -> str:
    return text_of(app.screen.query_one("#help-keys"))


@async_test
async def test_detail_shows_overview_roles_versions_handoffs_and_history(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(120, 50)) as pilot:
        await loaded(pilot)
        name = app.screen.selected_model.name
        with open_store(demo_db) as store:
            ctx = Context(store, "reader")
            model = queries.model(ctx, name)
            events = queries.history(ctx, model=name, limit=100)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await wait_for(pilot, lambda: screen.model is not None)
        await pilot.pause()
        overview = text_of(screen.query_one("#overview"))
        for text in (model.description, model.repo, model.owner, model.backup, "Iteration"):
            assert text in overview
        assert "No pending handoffs" in text_of(screen.query_one("#handoffs"))
        timeline = screen.query_one(Timeline)
        rendered = text_of(timeline)
        assert queries.describe(events[0]) in rendered
        assert queries.describe(events[-1]) in rendered


@async_test
async def test_question_mark_lists_every_key_of_the_screen_from_its_bindings(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(100, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app)
        for binding in [*BoardScreen.BINDINGS, *type(app).BINDINGS]:
            if binding.description != "Board":  # the view already shown has no key
                assert binding.description in text
        assert "Filter" not in text and "Board" not in text
        await pilot.press("escape", "2", "question_mark")
        text = help_text(app)
        for binding in ModelsScreen.BINDINGS:
            assert binding.description in text
        assert "Sort" in text and "Left column" not in text


@async_test
async def test_the_palette_offers_views_and_model_actions_with_help(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"view: Models")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "models")
        await pilot.press("ctrl+p", *"model: Move")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MoveScreen))


@async_test
async def test_the_chosen_theme_is_remembered_in_the_users_config(demo_db):
    app = make_app(demo_db)
    async with app.run_test() as pilot:
        await loaded(pilot)
        app.theme = "nord"
        await pilot.pause()
    saved = json.loads((config.config_dir() / "tui.json").read_text())
    assert saved == {"theme": "nord"}
    assert config.config_dir().is_relative_to(os.environ["XDG_CONFIG_HOME"])  # not the real one
    app = make_app(demo_db)
    async with app.run_test() as pilot:
        await loaded(pilot)
        assert app.theme == "nord"


@async_test
async def test_the_view_bar_names_every_view_and_switches_by_key_or_click(demo_db):
    from mlops_tui.tui.screens.alerts import AlertsScreen
    from mlops_tui.tui.screens.oncall import OncallScreen
    from mlops_tui.tui.widgets.shell.views import ViewBar

    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        bar = app.screen.query_one(ViewBar)
        shown = text_of(bar)
        for label in ("1 Board", "2 Models", "3 On-call", "4 Inbox", "5 Alerts"):
            assert label in shown
        await pilot.press("3")
        assert isinstance(app.screen, OncallScreen)
        await pilot.press("5")
        assert isinstance(app.screen, AlertsScreen)
        # "2 Models" stands after " 1 Board  " and " 3 On-call  ": click its label.
        text = text_of(app.screen.query_one(ViewBar))
        await pilot.click(ViewBar, offset=(text.index("Models") + 1, 0))
        assert isinstance(app.screen, ModelsScreen)
        # On a screen opened on top of a view, the view keys wait for escape.
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert not app.screen.query(ViewBar)
        await pilot.press("1")
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("escape", "1")
        assert isinstance(app.screen, BoardScreen)
