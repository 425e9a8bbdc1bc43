"""Time travel from the keyboard: T on a model scrubs its history and shows it as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mlops_tui.services import builds, lifecycle, team
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.timetravel import TimeTravelScreen
from mlops_tui.tui.widgets.detail.moment import Moment
from tests.tui.helpers import NOW, text_of, wait_for


@pytest.fixture
def db(tmp_path) -> str:
    url = str(tmp_path / "tt.db")
    moments = iter(NOW - timedelta(days=10 - i) for i in range(10))
    with open_store(url) as store:
        ctx = Context(store, "alice", clock=lambda: next(moments))
        lifecycle.add_model(ctx, "churn", owner="alice")  # 1
        lifecycle.move(ctx, "churn", "build")  # 2
        builds.record(ctx, "churn", commit="a" * 40, image="reg/churn:1")  # 3, 4
        team.add_user(ctx, "bob")  # a team event, not one of the model's
        lifecycle.set_role(ctx, "churn", "bob")  # 5: bob owns it now
    return url


async def test_t_scrubs_the_timeline_and_shows_the_model_as_it_was(db) -> None:
    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_model("churn")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.model)
        await pilot.press("T")
        screen = app.screen
        assert isinstance(screen, TimeTravelScreen)
        await wait_for(pilot, lambda: screen.selected is not None)
        assert len(screen.steps) == 5
        moment = screen.query_one(Moment)
        now = text_of(moment)
        assert "Owner" in now and "bob" in now and "v1" in now and "now " not in now

        await pilot.press("up")  # one event back: before the handoff to bob
        await wait_for(pilot, lambda: screen.selected is screen.steps[3])
        then = text_of(moment)
        assert "alice" in then and "now bob" in then
        assert "event 4 of 5" in text_of(screen.query_one("#tt-title"))

        await pilot.press("left", "left")  # before the build finished: no version yet
        await wait_for(pilot, lambda: screen.selected is screen.steps[1])
        then = text_of(moment)
        assert "build" in then and "none" in then and "now v1" in then

        await pilot.press("home")  # the model's creation
        await wait_for(pilot, lambda: screen.selected is screen.steps[0])
        assert "created in plan" in text_of(moment) and "now build" in text_of(moment)
        await pilot.press("end", "escape")
        assert isinstance(app.screen, DetailScreen)


@pytest.fixture
def approvals_db(tmp_path) -> str:
    from mlops_tui.services import approvals

    url = str(tmp_path / "ap.db")
    with open_store(url) as store:
        ctx = Context(store, "alice")
        approvals.require(ctx, None, 1)
        for name in ("churn", "fraud"):
            lifecycle.add_model(ctx, name, owner="alice")
            lifecycle.move(ctx, name, "build")
            builds.record(ctx, name, commit="a" * 40, image=f"reg/{name}:1")
            lifecycle.move(ctx, name, "deploy", force=True, note="tests ran in CI")
    return url


async def test_pending_approvals_are_approved_and_rejected_from_the_keyboard(approvals_db):
    from mlops_tui.services import approvals
    from mlops_tui.tui.screens.approvals import ApprovalsScreen
    from mlops_tui.tui.widgets.approvals.pending import PendingApprovals

    app = MlopsApp(approvals_db, actor="bob")
    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(ApprovalsScreen())
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ApprovalsScreen) and app.screen.query(PendingApprovals),
        )
        table = app.screen.query_one(PendingApprovals)
        await wait_for(pilot, lambda: len(table.approvals) == 2)
        assert [a.model for a in table.approvals] == ["churn", "fraud"]
        await pilot.press("a")  # approve churn v1
        await wait_for(pilot, lambda: [a.model for a in table.approvals] == ["fraud"])
        await pilot.press("x")
        await pilot.press(*"drift", "enter")
        await wait_for(pilot, lambda: table.approvals == [])
    with open_store(approvals_db) as store:
        ctx = Context(store, "carol")
        assert approvals.missing(ctx, "churn", 1) is None
        assert approvals.missing(ctx, "fraud", 1) == "fraud v1 was rejected by bob (drift)"


async def test_the_requester_cannot_approve_and_is_told_why(approvals_db):
    from mlops_tui.tui.screens.approvals import ApprovalsScreen
    from mlops_tui.tui.widgets.approvals.pending import PendingApprovals

    app = MlopsApp(approvals_db, actor="alice")
    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(ApprovalsScreen())
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ApprovalsScreen) and app.screen.query(PendingApprovals),
        )
        table = app.screen.query_one(PendingApprovals)
        await wait_for(pilot, lambda: len(table.approvals) == 2)
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: any("someone else must approve" in str(n.message) for n in app._notifications),
        )
        assert len(table.approvals) == 2


async def test_a_running_board_relays_webhook_events(tmp_path, monkeypatch) -> None:
    from mlops_tui.services import webhooks
    from tests.receiver import Receiver

    monkeypatch.setenv("HOOK_SECRET", "tui-secret")
    receiver = Receiver(secret="tui-secret").start()
    url = str(tmp_path / "hooks.db")
    try:
        with open_store(url) as store:
            ctx = Context(store, "alice")
            webhooks.add(ctx, receiver.url, events="stage", secret_env="HOOK_SECRET")
            lifecycle.add_model(ctx, "churn", owner="alice")
        app = MlopsApp(url, actor="bob")
        async with app.run_test(size=(120, 35)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None)
            with open_store(url) as store:  # a teammate's change, made elsewhere
                lifecycle.move(Context(store, "carol"), "churn", "build")
            await wait_for(pilot, lambda: receiver.kinds() == ["stage.moved"], timeout=10)
        assert receiver.received[0]["body"]["actor"] == "carol"
        assert receiver.bad_signatures == 0
    finally:
        receiver.stop()


async def test_the_inbox_lists_what_i_may_approve_with_keys_to_decide(approvals_db):
    from mlops_tui.services import approvals
    from mlops_tui.tui.screens.inbox import InboxScreen
    from mlops_tui.tui.widgets.approvals.pending import PendingApprovals

    app = MlopsApp(approvals_db, actor="bob")
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        app.switch_mode("inbox")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, InboxScreen) and app.screen.query(PendingApprovals),
        )
        table = app.screen.query_one(PendingApprovals)
        await wait_for(pilot, lambda: len(table.approvals) == 2)
        table.focus()
        await pilot.press("down", "a")  # fraud v1
        await wait_for(pilot, lambda: [a.model for a in table.approvals] == ["churn"])
        await pilot.press("x", *"no eval report", "enter")
        await wait_for(pilot, lambda: table.approvals == [])
    with open_store(approvals_db) as store:
        ctx = Context(store, "carol")
        assert approvals.missing(ctx, "fraud", 1) is None
        assert approvals.missing(ctx, "churn", 1) == "churn v1 was rejected by bob (no eval report)"
    # alice asked for both: her inbox has nothing to approve
    app = MlopsApp(approvals_db, actor="alice")
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        app.switch_mode("inbox")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, InboxScreen) and app.screen.query(PendingApprovals),
        )
        await pilot.pause(0.3)
        assert app.screen.query_one(PendingApprovals).approvals == []
