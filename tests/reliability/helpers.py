"""What the reliability tests share: running workers and checking the state against history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlops_tui.services import queries
from mlops_tui.services.context import Context
from mlops_tui.services.replay import replay

ROOT = Path(__file__).resolve().parents[2]


def worker(*args: str, **popen: object) -> subprocess.Popen[str]:
    """`python -m tests.reliability.worker ARGS` as a real OS process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.worker", *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,  # type: ignore[arg-type]
    )


def mlops(*args: str, db: str, check: bool = False, **env: str) -> subprocess.CompletedProcess:
    """The real `mlops` command, as a user runs it."""
    exe = str(Path(sys.executable).with_name("mlops"))
    return subprocess.run(
        [exe, *args],
        env={**os.environ, "MLOPS_DB": db, "NO_COLOR": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def assert_state_is_the_replayed_history(ctx: Context, *, revisions: bool = True) -> None:
    """Each model's stored state is what its history says: nothing lost, doubled or
    half-written. With `revisions`, for histories of only creations, moves and owner
    changes, each event also bumped its model's revision exactly once."""
    events = queries.history(ctx, limit=0)
    state = replay(events)
    models = queries.models(ctx)
    assert {m.name for m in models} == set(state)
    per_model: dict[str, int] = {}
    for e in events:
        if e.model is not None:
            per_model[e.model] = per_model.get(e.model, 0) + 1
    for m in models:
        r = state[m.name]
        stored = (str(m.stage), m.owner, m.backup, m.oncall, m.iteration, m.updated_by)
        replayed = (r["stage"], r["owner"], r["backup"], r["oncall"], r["iteration"])
        assert stored == (*replayed, r["updated_by"]), m.name
        assert m.updated_at == r["updated_at"], m.name
        if revisions:
            assert m.revision == per_model[m.name], m.name


def seed_team(ctx: Context, models: int = 6) -> None:
    """A small team through the services alone (no gates, no Docker): models in Plan and
    Build, rework with notes, backups, and builds reported by CI with their versions."""
    from mlops_tui.services import builds, lifecycle, team

    people = [f"p{i}" for i in range(6)]
    for person in people:  # nobody owns a model without being on the team
        if ctx.store.get_user(person) is None:
            team.add_user(ctx, person)
    for i in range(models):
        name = f"model-{i:02d}"
        lifecycle.add_model(
            ctx, name, owner=people[i % 6], description=f"model nº{i} ✓", tags=["team"]
        )
        if i % 4 == 0:
            lifecycle.set_role(ctx, name, people[(i + 1) % 6], role="backup")
        if i % 3:
            lifecycle.move(ctx, name, "build")
            builds.record(ctx, name, commit=f"{i + 1:040x}", image=f"{name}:ci", failed=i % 2 == 0)
        if i % 3 == 2:
            lifecycle.move(ctx, name, "plan", note="labels leaked — retrain 🚀")
