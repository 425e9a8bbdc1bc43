"""Several processes writing to one database at once: every change lands with its event or
is refused with a clear reason; nothing is lost, doubled, or "database is locked".

A change on the shared model is retried by the service when a teammate got there first, a
few times with backoff; on a busy machine all of them can lose, and the change is then
refused as a Conflict that names who changed the model. That is a legitimate outcome (the
TUI and the CLI show it and nothing is written); losing or doubling a change is not.
"""

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
from mlops_tui.domain import Stage
from mlops_tui.errors import MlopsError
from mlops_tui.services import builds, deploys, lifecycle, testing
from mlops_tui.services.context import Context
from mlops_tui.store import open_store

url, me, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = {"moved": 0, "owner": 0, "refused": {}, "conflicts": []}
with open_store(url) as store:
    ctx = Context(store, me)
    for i in range(rounds):
        name = "shared"
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
            if kind == "Conflict":
                done["conflicts"].append({"model": name, "message": exc.message})
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
    # Each change a worker was told had landed is in the history exactly once, as its own.
    for w, r in zip(workers, results, strict=True):
        mine = [e.kind for e in events if e.actor == w]
        assert (mine.count("stage.moved"), mine.count("owner.set")) == (r["moved"], r["owner"])
    # Only a race on the shared model can refuse a move ("already in …"); each worker's own
    # model is theirs alone, so all 20 of its moves must land.
    for w in workers:
        own = queries.history(ctx, model=w, limit=0)
        assert len([e for e in own if e.kind == "stage.moved"]) == 20
    conflicts = sum(len(r["conflicts"]) for r in results)
    print(f"{sum(r['moved'] + r['owner'] for r in results)} landed, {conflicts} conflicts")
    for r in results:
        assert set(r["refused"]) <= {"MoveRefused", "InvalidInput", "Conflict"}, r["refused"]
        # A Conflict only after the retries lost every race, and it says who won.
        assert len(r["conflicts"]) == r["refused"].get("Conflict", 0)
        for conflict in r["conflicts"]:
            assert conflict["model"] == "shared", conflict
            assert conflict["message"].startswith("shared was changed by w"), conflict
            assert "nothing was written" in conflict["message"], conflict
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
