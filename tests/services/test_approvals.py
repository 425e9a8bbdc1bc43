"""Approvals before production: rules, requests, who may approve, and the deploy refusal."""

from __future__ import annotations

import pytest

from mlops_tui.errors import ApprovalMissing, InvalidInput, PermissionDenied
from mlops_tui.services import approvals, builds, deploys, lifecycle, queries, team
from mlops_tui.services.context import Context
from tests.loop_model import serving  # noqa: F401 - a fixture
from tests.services.test_deploys import to_deploy


def as_(ctx: Context, who: str) -> Context:
    return Context(ctx.store, who, clock=ctx.clock)


def to_stage_deploy(ctx: Context, name: str = "churn") -> None:
    """A model with v1 in stage deploy, without Docker: a CI build and a forced move."""
    lifecycle.add_model(ctx, name, owner="alice")
    lifecycle.move(ctx, name, "build")
    builds.record(ctx, name, commit="a" * 40, image=f"reg/{name}:1")
    lifecycle.move(ctx, name, "deploy", force=True, note="tests ran in CI")


def test_a_request_is_made_when_a_version_needing_approval_enters_deploy(ctx) -> None:
    approvals.require(ctx, None, 1)  # the whole team
    to_stage_deploy(ctx)
    kinds = [e.kind for e in queries.history(ctx, model="churn", limit=2)]
    assert kinds == ["approval.requested", "stage.moved"]
    (waiting,) = approvals.pending(ctx)
    assert (waiting.model, waiting.version, waiting.requested_by) == ("churn", 1, "alice")
    assert approvals.pending(ctx, for_user="alice") == []  # the requester can't approve
    assert "churn v1 needs 1 approval before production (has 0)" in approvals.missing(
        ctx, "churn", 1
    )
    approvals.approve(as_(ctx, "bob"), "churn", 1, note="looked at the eval report")
    assert approvals.missing(ctx, "churn", 1) is None
    assert approvals.pending(ctx) == []


def test_who_may_approve(ctx) -> None:
    to_stage_deploy(ctx)
    approvals.require(ctx, "churn", 2)
    approvals.request(as_(ctx, "carol"), "churn", 1)  # carol deploys: the requester
    assert approvals.missing(ctx, "churn", 1)
    with pytest.raises(PermissionDenied, match="carol requested the approval of churn v1"):
        approvals.approve(as_(ctx, "carol"), "churn", 1)
    team.add_user(ctx, "mia", role="member")
    with pytest.raises(PermissionDenied, match=r"mia may not approve or reject churn: .*owner"):
        approvals.approve(as_(ctx, "mia"), "churn", 1)
    approvals.approve(ctx, "churn", 1)  # alice: the owner
    assert "has 1: alice" in approvals.missing(ctx, "churn", 1)
    team.add_user(ctx, "max", role="maintainer")
    approvals.reject(as_(ctx, "max"), "churn", 1, "the drift check is red")
    assert approvals.missing(ctx, "churn", 1) == (
        "churn v1 was rejected by max (the drift check is red)"
    )
    approvals.approve(as_(ctx, "max"), "churn", 1, "fixed upstream")  # changed their mind
    assert approvals.missing(ctx, "churn", 1) is None
    with pytest.raises(InvalidInput, match="needs a note saying why"):
        approvals.reject(ctx, "churn", 1, None)
    with pytest.raises(InvalidInput, match="churn has no version 7"):
        approvals.approve(ctx, "churn", 7)


def test_a_model_rule_wins_over_the_team_rule_and_can_be_removed(ctx) -> None:
    to_stage_deploy(ctx)
    assert approvals.missing(ctx, "churn", 1) is None  # no rule: nothing asked
    boss = as_(ctx, "boss")  # not churn's owner: the rules do not bind them
    approvals.require(boss, None, 2)
    approvals.require(boss, "churn", 1)
    assert approvals.required(ctx, "churn") == 1
    approvals.require(boss, "churn", 0)
    assert approvals.required(ctx, "churn") == 2
    approvals.require(boss, None, 0)
    assert approvals.missing(ctx, "churn", 1) is None
    with pytest.raises(InvalidInput, match="no approval rule to remove"):
        approvals.require(boss, None, 0)
    kinds = [e.kind for e in queries.history(ctx, limit=4)]
    assert kinds == ["approval.rule"] * 4


def test_nobody_lowers_a_rule_that_binds_them(ctx) -> None:
    """The owner may raise the bar on their own model, never lower it; whoever waits for
    an approval may not lower the team's rule either; and rules are an admin's act."""
    to_stage_deploy(ctx)  # alice owns churn
    team.add_user(ctx, "root", role="admin")
    root, alice = as_(ctx, "root"), ctx
    team.set_role(root, "alice", "admin")
    approvals.require(alice, "churn", 2)  # raising: fine
    with pytest.raises(PermissionDenied, match="alice is responsible for churn"):
        approvals.require(alice, "churn", 1)
    with pytest.raises(PermissionDenied, match="alice is responsible for churn"):
        approvals.require(alice, "churn", 0)
    approvals.require(root, None, 1)
    approvals.require(root, "churn", 0)  # churn now falls under the team's rule
    approvals.request(as_(ctx, "carol"), "churn", 1)  # carol deploys: asks for approval
    team.set_role(root, "carol", "admin")  # joined with her request
    with pytest.raises(PermissionDenied, match="carol is waiting for approval of churn v1"):
        approvals.require(as_(ctx, "carol"), None, 0)
    with pytest.raises(PermissionDenied, match="alice is waiting for approval of churn v1"):
        approvals.require(alice, None, 0)
    team.add_user(root, "mo", role="maintainer")
    with pytest.raises(PermissionDenied, match="it needs an admin"):
        approvals.require(as_(ctx, "mo"), None, 0)
    refusals = [e for e in queries.history(ctx, limit=0) if e.kind == "permission.denied"]
    assert len(refusals) == 5
    approvals.require(root, None, 0)  # root waits for nothing
    assert approvals.required(ctx, "churn") == 0


def test_deploy_is_refused_until_approved(ctx, serving, docker_client) -> None:  # noqa: F811
    approvals.require(ctx, None, 1)
    name = to_deploy(ctx, serving)
    with pytest.raises(ApprovalMissing, match=f"cannot deploy: {name} v1 needs 1 approval"):
        deploys.deploy(as_(ctx, "carol"), name)
    assert ctx.store.get_model(name).production_version is None
    approvals.approve(as_(ctx, "bob"), name, 1)
    assert deploys.deploy(ctx, name).model.production_version == 1
