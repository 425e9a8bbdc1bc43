"""Handoffs on both backends: someone leaves with several models, bulk handoff, partial
acceptance, decline, cancel; ownership moves only on acceptance."""

from __future__ import annotations

import pytest

from mlops_tui.domain import HandoffStatus
from mlops_tui.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from mlops_tui.services import handoffs, lifecycle, queries, team
from mlops_tui.services.context import Context
from mlops_tui.services.replay import replay

ITEMS = ["runbook", "data sources", "credentials rotated", "dashboards", "open incidents"]


def as_(ctx: Context, actor: str) -> Context:
    return Context(ctx.store, actor, clock=ctx.clock)


@pytest.fixture
def team_ctx(ctx: Context) -> Context:
    team.add_user(ctx, "alice", role="admin")
    for name in ("bob", "carol", "dave"):
        team.add_user(ctx, name, role="member")
    for name in ("churn", "fraud", "eta"):
        lifecycle.add_model(ctx, name, owner="bob")
    lifecycle.add_model(ctx, "other", owner="dave")
    return ctx


def test_a_leaver_hands_everything_over_and_the_receiver_accepts_some(team_ctx: Context) -> None:
    ctx = team_ctx
    team.deactivate(ctx, "bob")
    assert {m.name for m in queries.models(ctx) if m.owner in team.orphaned(ctx)} == {
        "churn",
        "eta",
        "fraud",
    }
    made = handoffs.request_all(ctx, from_user="bob", to="carol", note="bob left")
    assert [h.model for h in made] == ["churn", "eta", "fraud"]
    assert all(h.status == HandoffStatus.PENDING and h.unticked == ITEMS for h in made)
    # Nothing changes hands before acceptance.
    assert {m.owner for m in queries.models(ctx) if m.name != "other"} == {"bob"}
    carol = as_(ctx, "carol")
    with pytest.raises(InvalidInput, match="not ticked: runbook, data sources"):
        handoffs.accept(carol, made[0].id)
    ticked = handoffs.tick(carol, made[0].id, ["runbook", "data sources"])
    assert ticked.unticked == ["credentials rotated", "dashboards", "open incidents"]
    handoffs.tick(carol, made[0].id, ticked.unticked)
    done, model = handoffs.accept(carol, made[0].id)
    assert (done.status, model.owner) == (HandoffStatus.ACCEPTED, "carol")
    event = queries.history(ctx, model="churn", limit=1)[0]
    assert (event.kind, event.data["handoff"], event.data["after"]) == (
        "owner.set",
        made[0].id,
        "carol",
    )
    # Partial acceptance: one declined, one still open, the rest as it was.
    handoffs.decline(carol, made[1].id, note="I do not know time series")
    assert queries.model(ctx, "eta").owner == "bob"
    assert [h.model for h in handoffs.pending(ctx, to="carol")] == ["fraud"]
    assert {m.name for m in queries.models(ctx) if m.owner in team.orphaned(ctx)} == {
        "eta",
        "fraud",
    }
    outcomes = handoffs.accept_all(carol, ack_all=True)
    assert [(o.handoff.model, o.error) for o in outcomes] == [("fraud", None)]
    assert queries.model(ctx, "fraud").owner == "carol"
    acked = queries.history(ctx, model="fraud", limit=1)[0]
    assert acked.data["acknowledged"] == ITEMS
    state = replay(queries.history(ctx, limit=0))
    assert {n: s["owner"] for n, s in state.items()} == {
        m.name: m.owner for m in queries.models(ctx)
    }


def test_accept_all_keeps_going_past_a_refusal(team_ctx: Context) -> None:
    ctx = team_ctx
    first = handoffs.request(ctx, "churn", to="carol")
    handoffs.request(ctx, "fraud", to="carol")
    carol = as_(ctx, "carol")
    handoffs.tick(carol, first.id, ITEMS)
    outcomes = handoffs.accept_all(carol)
    assert [(o.handoff.model, o.error is None) for o in outcomes] == [
        ("churn", True),
        ("fraud", False),
    ]
    assert "not ticked" in outcomes[1].error.message  # type: ignore[union-attr]


def test_only_the_receiver_accepts_or_declines_and_only_the_sender_or_an_admin_cancels(
    team_ctx: Context,
) -> None:
    ctx = team_ctx
    h = handoffs.request(as_(ctx, "bob"), "churn", to="carol")
    dave = as_(ctx, "dave")
    for fn, kwargs in ((handoffs.accept, {"ack_all": True}), (handoffs.decline, {"note": "x"})):
        with pytest.raises(PermissionDenied, match="only carol can"):
            fn(dave, h.id, **kwargs)
    with pytest.raises(PermissionDenied, match="only bob"):
        handoffs.cancel(dave, h.id)
    assert queries.history(ctx, limit=1)[0].kind == "permission.denied"
    assert handoffs.cancel(ctx, h.id).status == HandoffStatus.CANCELLED  # alice is admin
    with pytest.raises(InvalidInput, match="already cancelled"):
        handoffs.accept(as_(ctx, "carol"), h.id, ack_all=True)
    assert queries.model(ctx, "churn").owner == "bob"


def test_requests_are_checked(team_ctx: Context) -> None:
    ctx = team_ctx
    with pytest.raises(NotFound, match="stranger is not on the team"):
        handoffs.request(ctx, "churn", to="stranger")
    team.deactivate(ctx, "dave")
    with pytest.raises(InvalidInput, match="deactivated"):
        handoffs.request(ctx, "churn", to="dave")
    with pytest.raises(InvalidInput, match="already owns"):
        handoffs.request(ctx, "churn", to="bob")
    handoffs.request(ctx, "churn", to="carol")
    with pytest.raises(AlreadyExists, match="pending handoff"):
        handoffs.request(ctx, "churn", to="carol")
    with pytest.raises(InvalidInput, match="needs a note"):
        handoffs.decline(as_(ctx, "carol"), 1, note="  ")


def test_ownership_changed_meanwhile_is_a_conflict_and_nothing_moves(team_ctx: Context) -> None:
    ctx = team_ctx
    h = handoffs.request(ctx, "churn", to="carol")
    lifecycle.set_role(ctx, "churn", "dave")
    with pytest.raises(Conflict, match="now owned by dave"):
        handoffs.accept(as_(ctx, "carol"), h.id, ack_all=True)
    assert queries.model(ctx, "churn").owner == "dave"
    assert handoffs.get(ctx, h.id).status == HandoffStatus.PENDING


def test_handing_over_to_the_backup_clears_the_backup(team_ctx: Context) -> None:
    ctx = team_ctx
    lifecycle.set_role(ctx, "churn", "carol", role="backup")
    h = handoffs.request(ctx, "churn", to="carol")
    _, model = handoffs.accept(as_(ctx, "carol"), h.id, ack_all=True)
    assert (model.owner, model.backup) == ("carol", None)
    state = replay(queries.history(ctx, limit=0))["churn"]
    assert (state["owner"], state["backup"]) == ("carol", None)


def test_the_checklist_comes_from_the_shared_settings(team_ctx: Context) -> None:
    team.set_setting(team_ctx, "handoff_checklist", "runbook, on-call rota")
    h = handoffs.request(team_ctx, "churn", to="carol")
    assert h.unticked == ["runbook", "on-call rota"]


def test_who_may_offer_a_model(team_ctx: Context) -> None:
    ctx = team_ctx
    team.add_user(ctx, "vera", role="viewer")
    with pytest.raises(PermissionDenied, match="viewers read only"):
        handoffs.request(as_(ctx, "vera"), "churn", to="carol")
    lifecycle.move(ctx, "churn", "deploy", force=True, note="seed")
    dave = as_(ctx, "dave")  # a member who neither owns nor backs it up
    with pytest.raises(PermissionDenied, match="owner or backup"):
        handoffs.request(dave, "churn", to="carol")
    with pytest.raises(PermissionDenied, match="owner or backup"):
        handoffs.request(dave, "fraud", to="carol")  # in plan as well
    assert handoffs.request(as_(ctx, "bob"), "churn", to="carol").to_user == "carol"
