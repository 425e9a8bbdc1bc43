"""Test, deploy and alerts from the keyboard: a real engine and a container answering on
127.0.0.1; the outcome is checked in the database and over HTTP."""

from __future__ import annotations

import asyncio

from mlops_tui.domain import AlertStatus
from mlops_tui.services import builds, lifecycle, monitoring, queries
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from mlops_tui.store.schema import Not
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.screens.alerts import AlertsScreen
from mlops_tui.tui.screens.confirm import ConfirmScreen
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.job import DeployScreen, TestScreen
from mlops_tui.tui.widgets.detail.health import HealthPanel
from tests.loop_model import get, serving  # noqa: F401 - serving is a fixture
from tests.tui.helpers import async_test, make_app, text_of, wait_for


def built(db: str, serving) -> str:  # noqa: F811
    serving.commit()
    with open_store(db) as store:
        ctx = Context(store, "alice")
        lifecycle.add_model(ctx, serving.name, owner="alice", repo=str(serving.git.path))
        lifecycle.move(ctx, serving.name, "build")
        builds.build(ctx, serving.name)
        lifecycle.move(ctx, serving.name, "test")
    return serving.name


def model(db: str, name: str):  # type: ignore[no-untyped-def]
    with open_store(db) as store:
        return queries.model(Context(store, "x"), name)


@async_test
async def test_test_then_deploy_from_the_keyboard(tmp_path, serving) -> None:  # noqa: F811
    db = str(tmp_path / "tui.db")
    name = built(db, serving)
    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_model(name)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await wait_for(pilot, lambda: app.screen.model is not None)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TestScreen))
        test_screen = app.screen
        await wait_for(pilot, lambda: not test_screen.running, timeout=60)
        assert "running the model's tests" in test_screen.query_one("Log").lines
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("d")  # still in test: refused, no confirmation
        await wait_for(
            pilot,
            lambda: any("needs it in stage deploy" in n.message for n in app._notifications),
        )
        assert isinstance(app.screen, DetailScreen)
        with open_store(db) as store:
            lifecycle.move(Context(store, "alice"), name, "deploy")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=10)
        question = text_of(app.screen.query_one("#question"))
        assert f"Deploy {name} v1 ({name}:v1) → container mlops-{name}" in question
        assert f"127.0.0.1:{serving.port}" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        deploy_screen = app.screen
        await wait_for(pilot, lambda: not deploy_screen.running, timeout=60)
        assert any("is serving v1" in line for line in deploy_screen.query_one("Log").lines)
    stored = model(db, name)
    assert (stored.production_version, stored.stage) == (1, "deploy")
    assert get(serving.port, "/health") == (200, "ok\n")


@async_test
async def test_health_sparkline_and_acknowledging_an_alert(tmp_path, serving) -> None:  # noqa: F811
    db = str(tmp_path / "tui.db")
    name = built(db, serving)
    from mlops_tui.services import deploys, testing

    with open_store(db) as store:
        ctx = Context(store, "alice")
        testing.run(ctx, name)
        lifecycle.move(ctx, name, "deploy")
        deploys.deploy(ctx, name)
        monitoring.check(ctx, name)
        serving.commit(drift=0.7, message="v2")
    import docker

    container = docker.from_env().containers.get(f"mlops-{name}")
    container.exec_run(["sh", "-c", 'printf "model_drift_score 0.7\\n" > /www/metrics'])
    with open_store(db) as store:
        (outcome,) = monitoring.check(Context(store, "monitor"), name)
    (alert,) = outcome.opened
    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_model(name)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await wait_for(pilot, lambda: bool(app.screen.query(HealthPanel)))
        panel = app.screen.query_one(HealthPanel)
        await wait_for(pilot, lambda: len(panel.query("Sparkline")) == 1, timeout=10)
        assert list(panel.query_one("Sparkline").data) == [0.1, 0.7]
        summary = text_of(panel.query_one("#health-summary"))
        assert "critical" in summary and f"alert #{alert.id} open" in summary
        await pilot.press("escape")
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await wait_for(pilot, lambda: len(app.screen.alerts) == 1)
        await pilot.press("a")
        await pilot.press(*"retraining", "enter")
        await wait_for(pilot, lambda: app.screen.alerts[0].status == "acknowledged", timeout=10)
    with open_store(db) as store:
        (acked,) = store.rows(schema.ALERTS, model=name, status=Not(AlertStatus.RESOLVED))
    assert (acked.status, acked.acked_by, acked.note) == (
        AlertStatus.ACKNOWLEDGED,
        "alice",
        "retraining",
    )


@async_test
async def test_the_demo_shows_health_and_an_open_alert(demo_db: str) -> None:
    app = make_app(demo_db, mode="alerts")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await wait_for(pilot, lambda: len(app.screen.alerts) >= 1)
        assert app.screen.alerts[0].metric == "model_drift_score"


@async_test
async def test_health_shows_each_metric_once_when_two_loads_finish_together(
    demo_db: str,
) -> None:
    """Opening a model and a live refresh can land at the same moment; the panel must not
    draw the same sparkline twice."""
    app = make_app(demo_db, mode="alerts")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await wait_for(pilot, lambda: len(app.screen.alerts) >= 1)
        name = app.screen.alerts[0].model
        app.open_model(name)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await wait_for(pilot, lambda: bool(app.screen.query(HealthPanel)))
        panel = app.screen.query_one(HealthPanel)
        await wait_for(pilot, lambda: len(panel.query("Sparkline")) >= 1, timeout=10)
        model = app.backend.detail(name, limit=1).model
        summary = app.backend.loop_summary(name)
        for n in (2, 3, 4):
            await panel.query("Sparkline, .metric-label").remove()  # as on first opening
            await asyncio.gather(*(panel.show(model.health, summary) for _ in range(n)))
            await pilot.pause()
            assert len(panel.query("Sparkline")) == len(summary.series)
            assert len(panel.query(".metric-label")) == len(summary.series)
