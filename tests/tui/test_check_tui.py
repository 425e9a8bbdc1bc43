"""A health check from the keyboard (C): a real model serving on 127.0.0.1 is checked from
its detail, the outcome is a notification in the TUI's words, and the database and the
screen agree with it; a drifting second version opens an alert and goes back to Plan."""

from __future__ import annotations

import asyncio

from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widgets._toast import Toast

from mlops_tui.domain import AlertStatus, Health, Stage
from mlops_tui.services import builds, deploys, lifecycle, queries, testing
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.commands import MlopsCommands
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.help import key_rows
from mlops_tui.tui.screens.oncall import OncallScreen
from mlops_tui.tui.widgets.detail.health import HealthPanel
from tests.loop_model import serving  # noqa: F401 - serving is a fixture
from tests.tui.helpers import (
    async_test,
    fixed_now,
    loaded,
    make_app,
    screen_text,
    text_of,
    wait_for,
)

#: A build, a test run and a deploy with its health wait: generous, yet bounded.
SLOW = 90


def to_production(db: str, serving, **commit) -> str:  # noqa: F811
    """Commit, build, test, deploy and bring the model to Monitor, through the services:
    a new version each call, as a team going round the loop would."""
    name = serving.name
    serving.commit(**commit)
    with open_store(db) as store:
        ctx = Context(store, "alice")
        if not any(m.name == name for m in store.list_models()):
            lifecycle.add_model(ctx, name, owner="alice", repo=str(serving.git.path))
        if store.get_model(name).stage == Stage.MONITOR:
            lifecycle.move(ctx, name, "plan", note="next version")
        lifecycle.move(ctx, name, "build")
        builds.build(ctx, name)
        lifecycle.move(ctx, name, "test")
        testing.run(ctx, name)
        lifecycle.move(ctx, name, "deploy")
        deploys.deploy(ctx, name)
        lifecycle.move(ctx, name, "monitor")
    return name


def notices(app: MlopsApp, title: str) -> list[Notification]:
    """The notifications on screen now under `title` (they expire, so none are counted
    across a slow step)."""
    return [n for n in app._notifications if n.title == title]


def v2_notice(app: MlopsApp, name: str) -> list[Notification]:
    return [n for n in notices(app, f"Checked {name}") if f"{name} v2:" in n.message]


def toasts(app: MlopsApp) -> str:
    """What the notifications on screen read, as the user sees them."""
    return " ".join(str(toast.render()) for toast in app.screen.query(Toast))


@async_test
async def test_checking_health_from_the_detail(tmp_path, serving) -> None:  # noqa: F811
    db = str(tmp_path / "tui.db")
    name = to_production(db, serving)
    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_model(name)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        await wait_for(pilot, lambda: detail.model is not None, timeout=10)
        assert ("C", "Check") in key_rows(detail)  # `?` lists it

        await pilot.press("C")
        await wait_for(pilot, lambda: notices(app, f"Checked {name}"), timeout=20)
        (ok,) = notices(app, f"Checked {name}")
        assert ok.severity == "information"
        assert ok.message.startswith(f"{name} v1: health ok.")
        assert "Every metric is within its thresholds." in ok.message
        assert "alert" not in ok.message
        panel = detail.query_one(HealthPanel)
        summary = panel.query_one("#health-summary")
        await wait_for(pilot, lambda: "last check v1" in text_of(summary), timeout=10)
        assert text_of(summary).startswith("● ok  last check v1")
        with open_store(db) as store:
            (check,) = store.rows(schema.CHECKS, model=name)
            assert (check.health, check.ok, check.actor) == (Health.OK, True, "alice")
            assert store.get_model(name).health == Health.OK

        # v2 reports a drift past critical: built, tested and deployed while the TUI is open.
        await asyncio.wait_for(
            asyncio.to_thread(to_production, db, serving, drift=0.9, message="v2"), SLOW
        )
        await wait_for(
            pilot, lambda: detail.model is not None and detail.model.production_version == 2
        )
        await pilot.press("C")
        await wait_for(pilot, lambda: v2_notice(app, name), timeout=20)
        (drifted,) = v2_notice(app, name)
        assert drifted.severity == "error"
        assert drifted.message.startswith(f"{name} v2: health critical.")
        assert "model_drift_score = 0.9, past its critical threshold" in drifted.message
        assert "was opened and the model went back to Plan; v2 keeps serving." in drifted.message
        await wait_for(pilot, lambda: detail.model is not None and detail.model.stage == Stage.PLAN)
        await wait_for(pilot, lambda: "alert #" in text_of(summary), timeout=10)
    with open_store(db) as store:
        model = queries.model(Context(store, "x"), name)
        (alert,) = store.rows(schema.ALERTS, model=name)
    assert (model.stage, model.health, model.production_version) == (Stage.PLAN, "critical", 2)
    assert (alert.metric, alert.status) == ("model_drift_score", AlertStatus.OPEN)
    assert f"An alert (#{alert.id}) was opened" in drifted.message


@async_test
async def test_a_model_that_cannot_be_checked_says_why(demo_db: str) -> None:
    """Nothing serves, so nothing to check: the error's own title and TUI-facing words,
    without a traceback or a command-line flag, and no check recorded."""
    with open_store(demo_db) as store:
        name = next(m.name for m in store.list_models() if m.production_version is None)
    app = make_app(demo_db)
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_model(name)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await wait_for(pilot, lambda: app.screen.model is not None)
        await pilot.press("C")
        await wait_for(pilot, lambda: notices(app, "Invalid input"), timeout=10)
        (error,) = notices(app, "Invalid input")
        assert error.severity == "error"
        assert f"{name} has no production version" in error.message
        assert "--" not in error.message and "Traceback" not in error.message
        assert isinstance(app.screen, DetailScreen)
        assert not app._checking  # a second C may try again
    with open_store(demo_db) as store:
        assert store.rows(schema.CHECKS, model=name) == []


@async_test
async def test_checking_the_highlighted_model_on_call(demo_db: str) -> None:
    """On the on-call view C checks the highlighted model. The demo's production models
    configure nothing to probe: the error keeps its `[monitor]` words (not read as markup)."""
    app = make_app(demo_db, mode="oncall")
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, OncallScreen))
        screen = app.screen
        assert isinstance(screen, OncallScreen)
        await wait_for(pilot, lambda: bool(screen.rows))
        assert ("C", "Check") in key_rows(screen)
        selected = screen.selected_model
        assert selected is not None
        await pilot.press("C")
        await wait_for(pilot, lambda: notices(app, "Invalid input"), timeout=10)
        (error,) = notices(app, "Invalid input")
        assert error.message.startswith(f"{selected.name} v{selected.production_version}: ")
        assert "nothing to check" in error.message
        await wait_for(pilot, lambda: "nothing to check" in toasts(app))
        assert "[deploy].port" in toasts(app) and "[monitor].metrics" in toasts(app)


async def palette_on(pilot: Pilot[None], app: MlopsApp, name: str) -> list[str]:
    """The palette's entries on `name`'s detail; back to the view afterwards."""
    app.open_model(name)
    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
    detail = app.screen
    assert isinstance(detail, DetailScreen)
    await wait_for(pilot, lambda: detail.model is not None)
    names = [entry for entry, _, _ in MlopsCommands(detail)._commands()]
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, DetailScreen))
    return names


@async_test
async def test_the_palette_offers_a_check_for_production_models(demo_db: str) -> None:
    with open_store(demo_db) as store:
        models = store.list_models()
    serves = next(m.name for m in models if m.production_version is not None)
    idle = next(m.name for m in models if m.production_version is None)
    app = make_app(demo_db)
    async with app.run_test(size=(140, 40)) as pilot:
        assert "model: Check health" in await palette_on(pilot, app, serves)
        assert "model: Check health" not in await palette_on(pilot, app, idle)


@async_test
async def test_the_detail_footer_keeps_check_and_quit_at_80_columns(demo_db: str) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        app.open_model("demand-forecast")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await wait_for(pilot, lambda: app.screen.model is not None)
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        for key in ("esc Back", "R Rollback", "C Check", "? Keys", "q Quit"):
            assert key in footer, footer


@async_test
async def test_a_viewer_is_refused_a_check(demo_db: str) -> None:
    """Checking writes (a check, maybe an alert and a move), so a viewer is refused before
    anything is probed: the refusal under its own title, and no check recorded."""
    with open_store(demo_db) as store:
        name = next(m.name for m in store.list_models() if m.production_version is not None)
        before = len(store.rows(schema.CHECKS, model=name))
    app = MlopsApp(demo_db, actor="ivan", clock=fixed_now)  # the demo team's viewer
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_model(name)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await wait_for(pilot, lambda: app.screen.model is not None)
        await pilot.press("C")
        await wait_for(pilot, lambda: notices(app, "Not allowed"), timeout=10)
        (refused,) = notices(app, "Not allowed")
        assert "check the health of" in refused.message and "--" not in refused.message
    with open_store(demo_db) as store:
        assert len(store.rows(schema.CHECKS, model=name)) == before
