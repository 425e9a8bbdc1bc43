"""The on-call review on both backends: production models only, orphan and stale flags,
open alerts first, a clean review when everything is in order."""

from __future__ import annotations

from datetime import timedelta

from mlops_tui.domain import Health
from mlops_tui.services import builds, deploys, gate, lifecycle, monitoring, oncall, team, testing
from mlops_tui.services.context import Context
from tests.conftest import known


def to_production(ctx: Context, name: str, owner: str) -> None:
    known(ctx, owner)
    lifecycle.add_model(ctx, name, owner=owner)
    lifecycle.move(ctx, name, "build")
    builds.record(ctx, name, commit="a" * 40, image=f"r/{name}:1")
    lifecycle.move(ctx, name, "test")
    testing.record(ctx, name, version=1, passed=True)
    lifecycle.move(ctx, name, "deploy")
    deploys.record(ctx, name, version=1)


def check(ctx: Context, name: str, *, critical: bool = False, hours_ago: float = 1) -> None:
    at = ctx.clock() - timedelta(hours=hours_ago)
    c = Context(ctx.store, "monitor", clock=lambda: at)
    spec = {"metric": "drift", "value": 0.5, "threshold": 0.3, "detail": "drift 0.5 ≥ 0.3"}
    health = Health.CRITICAL if critical else Health.OK
    with gate.acting(c, "check", name):
        monitoring.record(
            c,
            name,
            version=1,
            health=health,
            ok=True,
            detail="",
            results=[("drift", 0.5 if critical else 0.1, health)],
            stale_at=at + timedelta(hours=24),
            alerts=[spec] if critical else [],
        )


def test_the_review_lists_production_models_most_urgent_first(ctx: Context) -> None:
    team.add_user(ctx, "alice", role="admin")
    for name in ("bob", "carol"):
        team.add_user(ctx, name)
    to_production(ctx, "calm", "carol")
    to_production(ctx, "burning", "carol")
    to_production(ctx, "orphan", "bob")
    known(ctx, "carol")
    lifecycle.add_model(ctx, "not-live", owner="carol")
    check(ctx, "calm")
    check(ctx, "burning", critical=True)
    check(ctx, "orphan")
    team.deactivate(ctx, "bob")
    rows = oncall.review(ctx)
    assert [r.model.name for r in rows] == ["burning", "orphan", "calm"]
    burning, orphan, calm = rows
    assert burning.unacked and "1 open alert" in burning.problems
    assert orphan.orphaned and "orphaned (bob left)" in orphan.problems
    assert (calm.last_deploy.version, calm.last_deploy.by) == (1, "alice")  # type: ignore[union-attr]
    assert calm.problems == ["nobody on call", "no runbook"] and calm.needs_attention
    # Put the calm one in order: someone on call and a runbook; a review with nothing to do.
    known(ctx, "carol")
    lifecycle.set_role(ctx, "calm", "carol", role="oncall")
    oncall.set_runbook(ctx, "calm", "https://wiki.example.com/calm")
    calm = next(r for r in oncall.review(ctx) if r.model.name == "calm")
    assert (calm.problems, calm.needs_attention) == ([], False)
    assert calm.runbook == "https://wiki.example.com/calm"
    # Acknowledging the alert keeps it listed but lowers the urgency.
    alert = burning.open_alerts[0]
    monitoring.ack(ctx, alert.id, note="looking")
    burning = next(r for r in oncall.review(ctx) if r.model.name == "burning")
    assert not burning.unacked and "1 acknowledged alert" in burning.problems


def test_a_model_nobody_checked_lately_is_stale(ctx: Context) -> None:
    to_production(ctx, "old", "carol")
    (row,) = oncall.review(ctx)
    assert row.stale and "never checked" in row.problems
    check(ctx, "old", hours_ago=30)
    (row,) = oncall.review(ctx)
    assert row.stale and any(p.startswith("stale (no check for 30h") for p in row.problems)
    check(ctx, "old", hours_ago=1)
    assert not oncall.review(ctx)[0].stale
