"""The team in the TUI, driven from the keyboard on the demo team: the inbox (tick the
checklist, accept, decline), handing over from the board and the detail screen, the
on-call review, orphan flags, changes since the owner last looked."""

from __future__ import annotations

from mlops_tui.domain import HandoffStatus
from mlops_tui.services import queries, team
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.handoff import HandoffScreen
from mlops_tui.tui.screens.inbox import InboxScreen
from mlops_tui.tui.screens.oncall import OncallScreen
from mlops_tui.tui.screens.prompt import PromptScreen
from mlops_tui.tui.widgets.board.card import ModelCard
from mlops_tui.tui.widgets.team.handoff_table import HandoffTable
from tests.tui.helpers import (
    NOW,
    async_test,
    loaded,
    make_app,
    offer_to_tester,
    screen_text,
    text_of,
    wait_for,
)


def titles(app) -> list[str]:
    return [n.title for n in app._notifications]


def owner_of(db: str, name: str) -> str:
    with open_store(db) as store:
        return store.get_model(name).owner


@async_test
async def test_accepting_a_handoff_from_the_inbox_after_ticking_its_checklist(demo_db):
    handoff_id, name = offer_to_tester(demo_db)
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, InboxScreen)
        await wait_for(pilot, lambda: [h.id for h in screen.handoffs] == [handoff_id])
        items = [c.item for c in screen.handoffs[0].checklist]
        await pilot.press("a")  # nothing ticked yet: refused, naming what to tick
        await wait_for(pilot, lambda: "Checklist not done" in titles(app))
        refusal = next(n.message for n in app._notifications if n.title == "Checklist not done")
        assert all(item in refusal for item in items) and "space" in refusal
        assert "--" not in refusal
        assert owner_of(demo_db, name) != "tester"
        await pilot.press("tab")  # to the checklist
        for _ in range(5):
            await pilot.press("space", "down")
        await wait_for(
            pilot,
            lambda: screen.handoffs and not screen.handoffs[0].unticked,
            timeout=5,
        )
        await pilot.press("shift+tab", "a")
        await wait_for(pilot, lambda: owner_of(demo_db, name) == "tester", timeout=5)
        await wait_for(pilot, lambda: screen.handoffs == [])
    with open_store(demo_db) as store:
        last = queries.history(Context(store, "x"), model=name, limit=1)[0]
        assert (last.kind, last.actor, last.data["handoff"]) == ("owner.set", "tester", handoff_id)


@async_test
async def test_space_ticks_the_checklist_from_the_default_focus(demo_db):
    handoff_id, _ = offer_to_tester(demo_db)
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, InboxScreen)
        await wait_for(pilot, lambda: [h.id for h in screen.handoffs] == [handoff_id])
        assert isinstance(app.focused, HandoffTable)  # where the inbox opens
        assert "space Tick" in screen_text(app).splitlines()[-1]  # the footer
        first = screen.handoffs[0].checklist[0].item
        assert f"☐ {first}" in screen_text(app)
        await pilot.press("space")  # no tab first
        await pilot.pause()
        assert f"☑ {first}" in screen_text(app) and f"☐ {first}" not in screen_text(app)
        await wait_for(pilot, lambda: screen.handoffs[0].checklist[0].done, timeout=5)
        assert isinstance(app.focused, HandoffTable)
        await pilot.press("space")  # and again: unticked
        await wait_for(pilot, lambda: not screen.handoffs[0].checklist[0].done, timeout=5)
        await pilot.pause()
        assert f"☐ {first}" in screen_text(app)


@async_test
async def test_declining_needs_a_note_and_keeps_the_owner(demo_db):
    handoff_id, name = offer_to_tester(demo_db)
    before = owner_of(demo_db, name)
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("4")
        screen = app.screen
        await wait_for(pilot, lambda: len(screen.handoffs) == 1)
        await pilot.press("x", "enter")  # no note: the prompt stays and asks for one
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"not my area", "enter")
        await wait_for(pilot, lambda: screen.handoffs == [])
    with open_store(demo_db) as store:
        h = store.row(schema.HANDOFFS, id=handoff_id)
        assert (h.status, h.reply) == (HandoffStatus.DECLINED, "not my area")
    assert owner_of(demo_db, name) == before


@async_test
async def test_handing_over_from_the_board_with_the_keyboard(demo_db):
    with open_store(demo_db) as store:
        team.add_user(Context(store, "amara", clock=lambda: NOW), "tester", role="maintainer")
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        card = app.screen.focused
        assert isinstance(card, ModelCard)
        name, owner = card.model.name, card.model.owner
        await pilot.press("H")
        dialog = app.screen
        assert isinstance(dialog, HandoffScreen)
        await wait_for(pilot, lambda: dialog.query_one("#people").option_count > 0)
        options = dialog.query_one("#people")
        offered = {options.get_option_at_index(i).id for i in range(options.option_count)}
        # People only: not the demo's monitor (a service account), the viewer, or who left.
        assert "monitor" not in offered and "ivan" not in offered and "dana" not in offered
        assert {"hana", "bruno"} <= offered
        target = next(
            i for i in range(options.option_count) if options.get_option_at_index(i).id == "hana"
        )
        for _ in range(target):
            await pilot.press("down")
        await pilot.press("tab", *"runbook in the wiki", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, HandoffScreen))
    with open_store(demo_db) as store:
        (h,) = store.rows(schema.HANDOFFS, model=name, status=HandoffStatus.PENDING, order="id")
        assert (h.from_user, h.to_user, h.note, h.created_by) == (
            owner,
            "hana",
            "runbook in the wiki",
            "tester",
        )
        assert store.get_model(name).owner == owner  # only acceptance moves it


@async_test
async def test_detail_shows_pending_handoffs_and_changes_since_the_owner_looked(demo_db):
    with open_store(demo_db) as store:
        left = team.orphaned(Context(store, "x"))
        model = next(m for m in store.list_models() if m.owner not in left)
        name = model.name
        team.looked(Context(store, model.owner, clock=lambda: NOW), model)
    handoff_id, offered = offer_to_tester(demo_db, name)
    assert offered == name
    app = make_app(demo_db)
    async with app.run_test(size=(120, 50)) as pilot:
        await loaded(pilot)
        app.open_model(name)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await wait_for(pilot, lambda: screen.model is not None)
        panel = screen.query_one("#handoffs")
        await wait_for(pilot, lambda: f"#{handoff_id}" in text_of(panel))
        assert "→ tester" in text_of(panel)
        await pilot.press("c")
        await wait_for(pilot, lambda: "since" in text_of(app.screen.query_one("#changes-summary")))
        summary = text_of(app.screen.query_one("#changes-summary"))
        assert f"{model.owner} last looked" in summary
        await pilot.press("escape")
        await pilot.press("h")
        assert isinstance(app.screen, HandoffScreen)


@async_test
async def test_oncall_review_and_orphan_flags(demo_db):
    with open_store(demo_db) as store:
        ctx = Context(store, "x")
        left = team.orphaned(ctx)
        orphaned = sorted(m.name for m in store.list_models() if m.owner in left)
        production = [m.name for m in store.list_models() if m.production_version is not None]
    assert orphaned, "the demo has a leaver whose models are orphaned"
    app = make_app(demo_db)
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        cards = {c.model.name: c for c in app.screen.query(ModelCard)}
        assert "orphaned" in text_of(cards[orphaned[0]])
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, OncallScreen)
        await wait_for(pilot, lambda: len(screen.rows) == len(production))
        urgencies = [r.urgency for r in screen.rows]
        assert urgencies == sorted(urgencies, reverse=True)
        first = screen.rows[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.model_name == first.model.name


@async_test
async def test_acknowledging_an_alert_from_the_oncall_review(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, OncallScreen)
        await wait_for(pilot, lambda: bool(screen.rows))
        first = screen.rows[0]
        assert first.unacked, "the demo's most urgent model has an open alert"
        alert = first.unacked[0]
        await pilot.press("a", *"on it", "enter")
        with open_store(demo_db) as store:
            await wait_for(
                pilot,
                lambda: str(store.row(schema.ALERTS, id=alert.id).status) == "acknowledged",
                timeout=5,
            )
            acked = store.row(schema.ALERTS, id=alert.id)
        assert (acked.acked_by, acked.note) == ("tester", "on it")
        await wait_for(pilot, lambda: not screen.rows[0].unacked)
