"""Moving models through the loop, on both backends, as the CLI and TUI do."""

from __future__ import annotations

import pytest

from mlops_tui.domain import Stage
from mlops_tui.errors import AlreadyExists, Conflict, InvalidInput, MoveRefused, NotFound
from mlops_tui.services import builds, deploys, lifecycle, queries, testing
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.conftest import known


def passing_build(ctx: Context, name: str, n: int = 1) -> None:
    builds.record(ctx, name, commit=f"{n:040x}", image=f"registry.local/{name}:{n}")


def test_add_model_records_who_and_starts_in_plan(ctx: Context) -> None:
    known(ctx, "bob")
    m = lifecycle.add_model(ctx, "churn", owner="bob", description="d", tags=["Tab", "tab"]).model
    assert (m.stage, m.owner, m.created_by, m.tags) == (Stage.PLAN, "bob", "alice", ["tab"])
    event = queries.history(ctx, limit=1)[0]
    assert (event.actor, event.model, event.kind) == ("alice", "churn", "model.created")
    assert event.data["owner"] == "bob"


def test_add_refuses_bad_input_and_duplicates(ctx: Context) -> None:
    known(ctx, "bob")
    with pytest.raises(InvalidInput):
        lifecycle.add_model(ctx, "Churn", owner="bob")
    with pytest.raises(InvalidInput, match="owner"):
        lifecycle.add_model(ctx, "churn", owner="bob smith")
    lifecycle.add_model(ctx, "churn", owner="bob")
    with pytest.raises(AlreadyExists):
        lifecycle.add_model(ctx, "churn", owner="alice")
    assert [e.kind for e in queries.history(ctx)] == ["model.created", "user.added"]


def test_a_full_loop_starts_a_new_iteration(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    lifecycle.move(ctx, "churn", "build")
    passing_build(ctx, "churn")
    lifecycle.move(ctx, "churn", "test")
    testing.record(ctx, "churn", version=1, passed=True)
    lifecycle.move(ctx, "churn", "deploy")
    deploys.record(ctx, "churn", version=1)
    lifecycle.move(ctx, "churn", "monitor")
    change = lifecycle.move(ctx, "churn", "plan", note="drift")
    assert (change.model.stage, change.model.iteration) == (Stage.PLAN, 2)
    assert change.event.data == {
        "from": "monitor",
        "to": "plan",
        "move": "iteration",
        "iteration": 2,
        "note": "drift",
        "version": 1,
    }


def test_refused_moves_change_nothing(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    lifecycle.move(ctx, "churn", "build")
    before = (queries.model(ctx, "churn"), queries.history(ctx))
    for stage, note, force in [
        ("deploy", None, False),
        ("deploy", "x", False),
        ("deploy", None, True),
        ("plan", None, False),
        ("build", "x", True),
    ]:
        with pytest.raises(MoveRefused):
            lifecycle.move(ctx, "churn", stage, note=note, force=force)
    assert (queries.model(ctx, "churn"), queries.history(ctx)) == before


def test_rework_and_forced_moves_are_recorded_as_such(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    forced = lifecycle.move(ctx, "churn", "test", note="hotfix", force=True).event
    assert forced.data["move"] == "forced" and forced.data["forced"] is True
    rework = lifecycle.move(ctx, "churn", "build", note="flaky features").event
    assert rework.data["move"] == "rework" and rework.data["note"] == "flaky features"


def test_unknown_model_and_stage(ctx: Context) -> None:
    with pytest.raises(NotFound):
        lifecycle.move(ctx, "ghost", "build")
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    with pytest.raises(InvalidInput, match="unknown stage 'prod'"):
        lifecycle.move(ctx, "churn", "prod")
    with pytest.raises(NotFound):
        queries.history(ctx, model="ghost")


def test_a_move_based_on_a_stale_view_is_a_conflict(db_url: str, ctx: Context) -> None:
    """Alice's screen shows revision 1; Bob moves the model; Alice's move must not win."""
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    seen = queries.model(ctx, "churn").revision
    with open_store(db_url) as other:
        lifecycle.move(Context(other, "bob"), "churn", "build")
    with pytest.raises(Conflict, match="changed by bob"):
        lifecycle.move(ctx, "churn", "build", expected_revision=seen)
    assert [e.actor for e in queries.history(ctx, model="churn")] == ["bob", "alice"]


def test_roles(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    known(ctx, "carol")
    lifecycle.set_role(ctx, "churn", "carol", role="backup")
    known(ctx, "dave")
    change = lifecycle.set_role(ctx, "churn", "dave", role="oncall")
    assert (change.model.backup, change.model.oncall) == ("carol", "dave")
    assert change.event.data == {"role": "oncall", "before": None, "after": "dave"}
    known(ctx, "bob")
    with pytest.raises(InvalidInput, match="already the owner"):
        lifecycle.set_role(ctx, "churn", "bob")
    with pytest.raises(InvalidInput, match="backup must be someone else"):
        lifecycle.set_role(ctx, "churn", "bob", role="backup")
    known(ctx, "eve")
    with pytest.raises(InvalidInput, match="unknown role"):
        lifecycle.set_role(ctx, "churn", "eve", role="boss")
    assert lifecycle.set_role(ctx, "churn", "eve").model.owner == "eve"


def test_notes_are_checked(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    with pytest.raises(InvalidInput, match="control characters"):
        lifecycle.move(ctx, "churn", "test", note="\x1b[2Jgotcha", force=True)
    note = "naïve 模型 — drift ✓\nsecond line"
    assert lifecycle.move(ctx, "churn", "test", note=note, force=True).event.data["note"] == note
    assert queries.history(ctx, limit=1)[0].data["note"] == note


def test_build_to_test_needs_the_candidates_build_to_have_succeeded(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    lifecycle.move(ctx, "churn", "build")
    with pytest.raises(MoveRefused, match="no build yet"):
        lifecycle.move(ctx, "churn", "test")
    builds.record(ctx, "churn", commit="a" * 40, image="r/churn:1", failed=True)
    with pytest.raises(MoveRefused, match=r"latest build \(#1, v1\) failed"):
        lifecycle.move(ctx, "churn", "test")
    with pytest.raises(MoveRefused, match="needs a note"):
        lifecycle.move(ctx, "churn", "test", force=True)
    passing_build(ctx, "churn", 2)
    change = lifecycle.move(ctx, "churn", "test")
    assert change.event.data["move"] == "forward" and change.event.data["version"] == 2


def test_the_build_gate_can_be_overridden_and_says_so(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    lifecycle.move(ctx, "churn", "build")
    change = lifecycle.move(ctx, "churn", "test", force=True, note="CI is down; built by hand")
    assert change.event.data["move"] == "forced"
    assert "no build yet" in change.event.data["gate"]
