"""Several processes writing to one database at once: every change lands with its event or
is refused with a clear reason; nothing is lost, doubled, or "database is locked"."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mlops_tui.services import lifecycle, queries
from mlops_tui.services.context import Context
from mlops_tui.services.replay import replay

WORKER = r"""
import json, sys
from mlops_tui.domain import MlopsError, Stage
from mlops_tui.services import builds, deploys, lifecycle, testing
from mlops_tui.services.context import Context
from mlops_tui.store import open_store

url, me, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = {"moved": 0, "owner": 0, "refused": {}}
with open_store(url) as store:
    ctx = Context(store, me)
    for i in range(rounds):
        try:
            if i % 4 == 3:
                lifecycle.set_role(ctx, "shared", me)
                done["owner"] += 1
            else:
                name = "shared" if i % 2 else me
                current = store.get_model(name).stage
                if current is Stage.BUILD:
                    builds.record(ctx, name, commit=f"{i:040x}", image=f"{name}:ci")
                elif current is Stage.TEST:
                    testing.record(ctx, name, version=store.get_model(name).version, passed=True)
                elif current is Stage.DEPLOY:
                    deploys.record(ctx, name, version=store.get_model(name).version)
                lifecycle.move(ctx, name, current.next())
                done["moved"] += 1
        except MlopsError as exc:
            kind = type(exc).__name__
            done["refused"][kind] = done["refused"].get(kind, 0) + 1
print(json.dumps(done))
"""


def test_parallel_writers_lose_nothing(db_url: str, ctx: Context) -> None:
    workers = [f"w{i}" for i in range(4)]
    for name in ["shared", *workers]:
        lifecycle.add_model(ctx, name, owner="alice")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db_url, w, "40"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        for w in workers
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
        results.append(json.loads(out))
    events = queries.history(ctx, limit=0)
    moved = sum(r["moved"] for r in results)
    owners = sum(r["owner"] for r in results)
    assert len([e for e in events if e.kind == "stage.moved"]) == moved
    assert len([e for e in events if e.kind == "owner.set"]) == owners
    # Only a race on the shared model can refuse a move ("already in …"); each worker's own
    # model is theirs alone, so all 20 of its moves must land.
    for w in workers:
        own = queries.history(ctx, model=w, limit=0)
        assert len([e for e in own if e.kind == "stage.moved"]) == 20
    for r in results:
        assert set(r["refused"]) <= {"MoveRefused", "InvalidInput"}
    state = replay(events)
    for m in queries.models(ctx):
        r = state[m.name]
        assert (r["stage"], r["owner"], r["iteration"]) == (str(m.stage), m.owner, m.iteration)
    shared = queries.history(ctx, model="shared", limit=0)
    # Every change to the model bumps its revision once; build starts change no model state.
    # Test runs and deploy starts change no model state either.
    quiet = ("build.recorded", "test.recorded", "test.finished", "deploy.started")
    changes = [e for e in shared if e.kind not in quiet]
    assert queries.model(ctx, "shared").revision == len(changes)
