"""A writer in its own OS process, for the concurrency and fault tests.

    python -m tests.reliability.worker run URL NAME CHANGES SEED START_AT SHARED...
    python -m tests.reliability.worker loop URL NAME
    python -m tests.reliability.worker hang URL NAME
    python -m tests.reliability.worker stall URL NAME SECONDS

`run` makes CHANGES changes (moves by the rules, rework with notes, owner changes) on its
own model (`NAME`, nobody else's: every change must land) and on the shared models (pinned
to the revision it read, as the TUI does: each lands or is refused as a Conflict), then
prints one JSON line of outcomes. `loop` moves its model forever, printing each landed event
id, until it is killed. `hang` stops for good inside a write transaction, after the state
and its event were written but before the commit, so the test can kill it right there.
`stall` is the real `mlops move NAME build`, stopped at that same point for SECONDS (a
process paused in a debugger, a laptop closed over SSH) and then let go on: it ends as the
command would, with its output and exit status.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

from mlops_tui.domain import Model, Stage
from mlops_tui.errors import Conflict, StoreUnavailable
from mlops_tui.services import lifecycle
from mlops_tui.services.context import Context
from mlops_tui.store import Change, open_store

STAGES = list(Stage)
PEOPLE = [f"p{i}" for i in range(6)]


def _move(ctx: Context, model: Model, rng: random.Random, pinned: bool) -> Change:
    """One legal move: mostly a step forward, sometimes rework back with a note."""
    at = STAGES.index(model.stage)
    revision = model.revision if pinned else None
    if at > 0 and rng.random() < 0.25:
        back = STAGES[rng.randrange(at)]
        return lifecycle.move(
            ctx, model.name, back, note=f"rework by {ctx.actor}", expected_revision=revision
        )
    target = STAGES[(at + 1) % len(STAGES)]
    # build → test, test → deploy and deploy → monitor are gated on recorded evidence;
    # skipping a gate is legal with force and a note.
    gated = model.stage in (Stage.BUILD, Stage.TEST, Stage.DEPLOY)
    return lifecycle.move(
        ctx,
        model.name,
        target,
        note="gate skipped in a load test" if gated else None,
        force=gated,
        expected_revision=revision,
    )


def _owner(ctx: Context, model: Model, rng: random.Random, pinned: bool) -> Change:
    user = rng.choice([p for p in PEOPLE if p != model.owner])
    return lifecycle.set_role(
        ctx, model.name, user, expected_revision=model.revision if pinned else None
    )


def run(url: str, me: str, changes: int, seed: int, start_at: float, shared: list[str]) -> None:
    rng = random.Random(seed)
    outcomes: list[dict[str, Any]] = []
    with open_store(url) as store:
        ctx = Context(store, me)
        time.sleep(max(0.0, start_at - time.time()))  # all workers start writing together
        for _ in range(changes):
            name = rng.choice(shared) if rng.random() < 0.6 else me
            pinned = name != me
            action = "owner" if rng.random() < 0.3 else "move"
            outcome: dict[str, Any] = {"model": name, "action": action}
            try:
                model = store.get_model(name)
                if pinned:
                    time.sleep(rng.uniform(0, 0.004))  # a person looks before acting
                change = (_owner if action == "owner" else _move)(ctx, model, rng, pinned)
                outcome.update(result="landed", event=change.event.id, kind=change.event.kind)
            except Conflict as exc:
                outcome.update(result="conflict", message=exc.message)
            except StoreUnavailable as exc:
                outcome.update(result="unavailable", message=exc.message)
            outcomes.append(outcome)
    print(json.dumps(outcomes))


def loop(url: str, me: str) -> None:
    rng = random.Random(me)
    with open_store(url) as store:
        ctx = Context(store, me)
        while True:
            change = _move(ctx, store.get_model(me), rng, pinned=False)
            print(change.event.id, flush=True)


def hang(url: str, me: str) -> None:
    """Freeze inside the transaction of a move, right after its event was appended."""
    from mlops_tui.store.unit import Events

    real_append = Events.append

    def append_then_freeze(self: Events, event: Any) -> Any:
        appended = real_append(self, event)
        print(f"inside {appended.id}", flush=True)
        time.sleep(3600)
        return appended

    # the fault under test: a writer stopped right after its append
    Events.append = append_then_freeze  # type: ignore[method-assign]  # patched on purpose
    with open_store(url) as store:
        lifecycle.move(Context(store, me), me, STAGES[1])


def stall(url: str, me: str, seconds: float) -> None:
    """Stop inside the transaction of a CLI move, right after its event was appended."""
    from mlops_tui import cli
    from mlops_tui.store.unit import Events

    real_append = Events.append

    def append_then_stall(self: Events, event: Any) -> Any:
        appended = real_append(self, event)
        print(f"inside {appended.id}", flush=True)
        time.sleep(seconds)
        return appended

    Events.append = append_then_stall  # type: ignore[method-assign]  # patched on purpose
    os.environ["MLOPS_DB"] = url
    cli.main(["move", me, str(STAGES[1])])


def main(argv: list[str]) -> None:
    mode, url, me, *rest = argv
    if mode == "run":
        changes, seed, start_at, *shared = rest
        run(url, me, int(changes), int(seed), float(start_at), shared)
    elif mode == "loop":
        loop(url, me)
    elif mode == "hang":
        hang(url, me)
    elif mode == "stall":
        stall(url, me, float(rest[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
