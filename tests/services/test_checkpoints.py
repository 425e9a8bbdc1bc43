"""`status --at` from a checkpoint and a tail equals the full replay, whatever order the
history's times are in, and the checkpoints keep themselves current as people work."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from mlops_tui.services import checkpoints, lifecycle, team, timetravel, transfer
from mlops_tui.services.context import Context
from mlops_tui.services.replay import REPLAYED_KINDS, replay
from mlops_tui.store import open_store
from tests.conftest import known

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAGES = ("build", "test", "deploy", "monitor", "plan")


class Clock:
    """Mostly forward a few minutes per change; sometimes back (a writer whose clock is
    behind), so ids and times disagree."""

    def __init__(self, seed: int) -> None:
        self.now = T0
        self.rng = random.Random(seed)

    def __call__(self) -> datetime:
        return self.now

    def step(self) -> None:
        minutes = self.rng.choice((5, 5, 30, 90, -45))
        self.now += timedelta(minutes=minutes)


def work(ctx: Context, clock: Clock, changes: int) -> list[datetime]:
    """`changes` moves and role changes over five models; the moments they happened."""
    rng = clock.rng
    names = [f"m{i}" for i in range(5)]
    at = [clock.now]
    for name in names:
        lifecycle.add_model(ctx, name, owner="alice")
        clock.step()
        at.append(clock.now)
    where = dict.fromkeys(names, 0)
    for _ in range(changes):
        name = rng.choice(names)
        if rng.random() < 0.7:
            lifecycle.move(ctx, name, STAGES[where[name] % 5], force=True, note="drill")
            where[name] += 1
        else:
            backup = ctx.store.get_model(name).backup
            known(ctx, "carol")
            lifecycle.set_role(ctx, name, "carol" if backup == "bob" else "bob", role="backup")
        clock.step()
        at.append(clock.now)
    return at


def full_replay(ctx: Context, at: datetime) -> dict:
    return replay(ctx.store.replay_events(until=at, kinds=REPLAYED_KINDS))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_checkpoint_and_its_tail_give_the_full_replay_at_every_moment(store, seed) -> None:
    clock = Clock(seed)
    ctx = Context(store, "alice", clock=clock)
    for user in ("bob", "carol"):
        team.add_user(ctx, user, role="member")
    moments = work(ctx, clock, 40)
    assert checkpoints.keep(ctx, every=4) >= 8  # every 5 events: one per model
    assert store.checkpoint(checkpoints.FORMAT) is not None
    # every moment, and a little before and after each: times went back now and then, so
    # some checkpoints do not serve a moment their last event's id would suggest
    for moment in sorted(set(moments)):
        for t in (moment - timedelta(minutes=1), moment, moment + timedelta(minutes=1)):
            assert checkpoints.state_at(ctx, t) == full_replay(ctx, t), t
    assert checkpoints.state_at(ctx, T0 - timedelta(days=1)) == {}


def test_writes_keep_the_checkpoints_current(store, monkeypatch) -> None:
    monkeypatch.setattr(checkpoints, "EVERY", 3)
    clock = Clock(3)
    ctx = Context(store, "alice", clock=clock)
    for user in ("bob", "carol"):
        team.add_user(ctx, user, role="member")
    moments = work(ctx, clock, 20)
    head, upto, models = store.checkpoint_lag(checkpoints.FORMAT)
    assert models == 5
    assert 0 <= head - upto < 5  # at most one interval behind: a checkpoint per 5 (models)
    for moment in moments:
        assert checkpoints.state_at(ctx, moment) == full_replay(ctx, moment)


def test_a_checkpoint_of_another_format_is_not_read(store, monkeypatch) -> None:
    clock = Clock(4)
    ctx = Context(store, "alice", clock=clock)
    for user in ("bob", "carol"):
        team.add_user(ctx, user, role="member")
    work(ctx, clock, 10)
    assert checkpoints.keep(ctx, every=3)
    now = clock.now
    expected = full_replay(ctx, now)
    monkeypatch.setattr(checkpoints, "FORMAT", checkpoints.FORMAT + 1)
    assert store.checkpoint(checkpoints.FORMAT) is None  # replay's rules changed: not used
    assert checkpoints.state_at(ctx, now) == expected
    assert checkpoints.keep(ctx, every=3)  # made again in the new format


def test_an_import_makes_the_checkpoints_and_status_at_agrees(db_url, tmp_path, monkeypatch):
    """An exported history, imported into a new database: status --at there is the same as
    in the original at every moment, answered from checkpoints the import made."""
    monkeypatch.setattr(checkpoints, "EVERY", 4)
    source = str(tmp_path / "source.db")
    clock = Clock(5)
    with open_store(source) as store:
        ctx = Context(store, "alice", clock=clock)
        for user in ("bob", "carol"):
            team.add_user(ctx, user, role="member")
        moments = work(ctx, clock, 25)
        before = {m: timetravel.status_at(ctx, m) for m in moments}
        export = tmp_path / "team.jsonl"
        with export.open("w") as out:
            transfer.export(ctx, out)
    with open_store(db_url) as store:
        ctx = Context(store, "alice", clock=clock)
        with export.open() as lines:
            transfer.import_(ctx, lines, source=str(export))
        head, upto, _ = store.checkpoint_lag(checkpoints.FORMAT)
        assert upto and head - upto < 5
        for moment, rows in before.items():
            assert timetravel.status_at(ctx, moment) == rows, moment


@pytest.mark.parametrize(
    "tampering",
    [
        # an older state put in the newest checkpoint's place: the past would read wrong
        "UPDATE checkpoints SET state = (SELECT state FROM checkpoints ORDER BY upto LIMIT 1) "
        "WHERE upto = (SELECT max(upto) FROM checkpoints)",
        # a checkpoint claimed to lie before the times of the events it holds
        "UPDATE checkpoints SET max_at = NULL WHERE upto = (SELECT max(upto) FROM checkpoints)",
    ],
)
def test_audit_verify_finds_a_checkpoint_changed_behind_the_tools_back(db_url, tampering) -> None:
    from mlops_tui.services import audit
    from tests.conftest import raw_execute

    with open_store(db_url) as store:
        clock = Clock(6)
        ctx = Context(store, "alice", clock=clock)
        for user in ("bob", "carol"):
            team.add_user(ctx, user, role="member")
        work(ctx, clock, 20)
        assert checkpoints.keep(ctx, every=5) >= 3
        assert audit.verify(ctx).intact
        newest = store.checkpoint(checkpoints.FORMAT)
        assert newest is not None
    raw_execute(db_url, tampering)
    with open_store(db_url) as store:
        verdict = audit.verify(Context(store, "alice"))
    assert verdict.first_bad is not None
    assert verdict.first_bad.id == newest.upto
    assert "checkpoint after event" in verdict.first_bad.detail
