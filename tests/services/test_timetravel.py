"""`status --at`: the state replayed from the history equals what status showed then."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mlops_tui.domain import Health
from mlops_tui.errors import InvalidInput, NotFound
from mlops_tui.services import (
    builds,
    deploys,
    gate,
    handoffs,
    lifecycle,
    monitoring,
    queries,
    team,
    timetravel,
)
from mlops_tui.services.context import Context
from tests.conftest import known

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A clock that moves an hour per change, so every change has its own moment."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


@pytest.fixture
def clocked(store) -> tuple[Context, Clock]:
    clock = Clock()
    return Context(store, "alice", clock=clock), clock


def test_replay_at_each_past_moment_equals_status_then(clocked) -> None:
    ctx, clock = clocked
    a, b = f"churn-{uuid.uuid4().hex[:6]}", f"fraud-{uuid.uuid4().hex[:6]}"
    seen: list[tuple[datetime, list]] = []

    def changed() -> None:
        seen.append((clock.now, queries.status(ctx)))
        clock.tick()

    lifecycle.add_model(ctx, a, owner="alice")
    changed()
    known(ctx, "bob")
    lifecycle.add_model(ctx, b, owner="bob")
    changed()
    lifecycle.move(ctx, a, "build")
    changed()
    builds.record(ctx, a, commit="a" * 40, image="reg/a:1")
    changed()
    team.add_user(ctx, "carol", role="member")
    changed()
    lifecycle.set_role(ctx, a, "carol", role="backup")
    changed()
    lifecycle.move(ctx, a, "test")
    changed()
    builds.record(ctx, a, commit="b" * 40, image="reg/a:2", failed=True)
    changed()
    known(ctx, "dave")
    lifecycle.set_role(ctx, b, "dave")
    changed()
    lifecycle.move(ctx, a, "build", note="leak in the training window")
    changed()
    lifecycle.move(ctx, a, "deploy", force=True, note="tested in CI")
    changed()
    deploys.record(ctx, a, version=1)  # production v1
    changed()
    builds.record(ctx, a, commit="c" * 40, image="reg/a:3")
    changed()
    deploys.record(ctx, a, version=3)  # production v3
    changed()
    for health in (Health.OK, Health.OK, Health.CRITICAL):  # the second changes nothing
        with gate.acting(ctx, "check"):
            monitoring.record(
                ctx,
                a,
                version=3,
                health=health,
                ok=True,
                detail="",
                results=[("up", 1.0, health)],
                stale_at=clock.now + timedelta(days=365),
            )
        changed()
    # A handoff to the backup: accepted, the backup becomes the owner.
    handoff = handoffs.request(ctx, a, to="carol")
    changed()
    carol = Context(ctx.store, "carol", clock=clock)
    handoffs.accept(carol, handoff.id, ack_all=True)
    changed()
    final = queries.status(ctx)
    assert [(r.owner, r.version, r.production_version, r.health) for r in final if r.name == a] == [
        ("carol", 3, 3, "critical")
    ]
    assert ctx.store.get_model(a).backup is None  # the backup took over
    assert timetravel.model_state(ctx, a)["backup"] is None
    for moment, rows in seen:
        assert timetravel.status_at(ctx, moment) == rows, moment
        # and half an hour later, before the next change: still the same
        assert timetravel.status_at(ctx, moment + timedelta(minutes=30)) == rows
    # one model at a moment, as `status NAME --at`
    moment, rows = seen[4]
    assert timetravel.status_at(ctx, moment, name=a) == [r for r in rows if r.name == a]
    assert timetravel.status_at(ctx, moment, name=a)[0].version == 1


def test_before_a_model_existed_says_so(clocked) -> None:
    ctx, clock = clocked
    name = f"late-{uuid.uuid4().hex[:6]}"
    clock.tick()
    lifecycle.add_model(ctx, name, owner="alice")
    assert timetravel.status_at(ctx, T0) == []
    with pytest.raises(NotFound, match=f"{name} did not exist yet at .*: alice created it at"):
        timetravel.status_at(ctx, T0, name=name)
    with pytest.raises(NotFound, match="no model named 'ghost'"):
        timetravel.status_at(ctx, T0, name="ghost")


def test_filters_apply_to_the_past_state(clocked) -> None:
    ctx, clock = clocked
    lifecycle.add_model(ctx, "m1", owner="alice")
    known(ctx, "bob")
    lifecycle.add_model(ctx, "m2", owner="bob")
    then = clock.now
    clock.tick()
    lifecycle.move(ctx, "m1", "build")
    lifecycle.set_role(ctx, "m2", "alice")
    assert [r.name for r in timetravel.status_at(ctx, then, owner="alice")] == ["m1"]
    assert [r.name for r in timetravel.status_at(ctx, then, stage="plan")] == ["m1", "m2"]
    assert [r.name for r in timetravel.status_at(ctx, clock.now, owner="alice")] == ["m1", "m2"]


def test_timeline_gives_the_model_after_each_event(clocked) -> None:
    ctx, clock = clocked
    lifecycle.add_model(ctx, "m1", owner="alice")
    clock.tick()
    lifecycle.move(ctx, "m1", "build")
    clock.tick()
    known(ctx, "bob")
    lifecycle.set_role(ctx, "m1", "bob")
    steps = timetravel.timeline(ctx, "m1")
    assert [(s.state["stage"], s.state["owner"]) for s in steps] == [
        ("plan", "alice"),
        ("build", "alice"),
        ("build", "bob"),
    ]
    assert steps[-1].row() == queries.status(ctx)[0]


def test_a_moment_in_the_future_is_refused(clocked) -> None:
    ctx, clock = clocked
    lifecycle.add_model(ctx, "m1", owner="alice")
    with pytest.raises(InvalidInput, match=r"is in the future .*: time travel shows the past"):
        timetravel.status_at(ctx, clock.now + timedelta(days=365))
    assert timetravel.status_at(ctx, clock.now)[0].name == "m1"  # now itself is the past


def test_a_production_model_unchecked_for_too_long_was_stale_then(clocked) -> None:
    ctx, clock = clocked
    lifecycle.add_model(ctx, "m1", owner="alice")
    lifecycle.move(ctx, "m1", "build")
    builds.record(ctx, "m1", commit="a" * 40, image="reg/m1:1")
    lifecycle.move(ctx, "m1", "deploy", force=True, note="tested in CI")
    deploys.record(ctx, "m1", version=1)
    clock.tick()
    checked = clock.now
    with gate.acting(ctx, "check"):
        monitoring.record(
            ctx,
            "m1",
            version=1,
            health=Health.OK,
            ok=True,
            detail="",
            results=[("up", 1.0, Health.OK)],
            stale_at=checked + timedelta(hours=24),  # the default [monitor].max_age
        )
    clock.now = checked + timedelta(days=2)  # both moments below are in the past now
    assert timetravel.status_at(ctx, checked + timedelta(hours=23))[0].health == "ok"
    assert timetravel.status_at(ctx, checked + timedelta(hours=25))[0].health == "stale"
    clock.now = checked + timedelta(hours=25)
    assert queries.status(ctx)[0].health == "stale"  # what status showed then, too
    assert timetravel.status_at(ctx, clock.now) == queries.status(ctx)
