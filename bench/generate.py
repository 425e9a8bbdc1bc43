"""A seeded team of any size, written in one bulk load through the store's own `load`.

Every model's history is a legal walk around the loop, so the data is one the rules could
have produced: replaying its events gives the stored state.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from mlops_tui.domain import STAGES
from mlops_tui.store import Store

PEOPLE = [f"user{i:03d}" for i in range(120)]
WORDS = (
    "churn",
    "fraud",
    "demand",
    "search",
    "recsys",
    "ltv",
    "credit",
    "eta",
    "spam",
    "image",
    "sentiment",
    "price",
    "risk",
    "lead",
    "uplift",
    "anomaly",
)


def rows(models: int, events: int, *, seed: int = 42, now: datetime | None = None):
    """Return (model rows, event rows) in `Store.dump` form."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    per_model = max(events // models, 2)
    model_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    for i in range(models):
        name = f"{WORDS[i % len(WORDS)]}-{i:05d}"
        owner, backup = rng.sample(PEOPLE, 2)
        count = per_model if i < models - 1 else max(events - len(event_rows), 2)
        start = now - timedelta(days=rng.uniform(30, 540))
        step = (now - start) / (count + 1)
        at = start
        evs: list[tuple[datetime, str, str, dict[str, Any]]] = [
            (at, owner, "model.created", {"owner": owner, "stage": "plan"})
        ]
        at += step
        evs.append((at, owner, "owner.set", {"role": "backup", "before": None, "after": backup}))
        stage, iteration = 0, 1
        for _ in range(count - 2):
            at += step
            nxt = (stage + 1) % len(STAGES)
            data: dict[str, Any] = {
                "from": STAGES[stage].value,
                "to": STAGES[nxt].value,
                "move": "forward",
            }
            if nxt == 0:
                iteration += 1
                data.update(move="iteration", iteration=iteration, note="scheduled retrain")
            evs.append((at, rng.choice((owner, backup)), "stage.moved", data))
            stage = nxt
        for at_, actor, kind, data in evs:
            event_rows.append(
                {"at": at_, "actor": actor, "model": name, "kind": kind, "data": data}
            )
        version = rng.randint(1, 40) if stage else None
        model_rows.append(
            {
                "name": name,
                "description": f"{name} model",
                "repo": None,
                "tags": ["bench"],
                "stage": STAGES[stage].value,
                "iteration": iteration,
                "owner": owner,
                "backup": backup,
                "oncall": None,
                "version": version,
                "production_version": version - 1 if version and version > 1 else None,
                "health": rng.choice(("ok", "ok", "ok", "warn", "critical", "stale", "unknown")),
                "created_at": evs[0][0].isoformat(),
                "created_by": owner,
                "updated_at": evs[-1][0].isoformat(),
                "updated_by": evs[-1][1],
                "revision": len(evs),
            }
        )
    # Ids in the order the tool appends them: by time, models interleaved.
    event_rows.sort(key=lambda r: r["at"])
    for i, row in enumerate(event_rows, start=1):
        row["id"], row["at"] = i, row["at"].isoformat()
    return model_rows, event_rows


def seed(store: Store, models: int, events: int, **kw: Any) -> None:
    from mlops_tui.services import checkpoints, gate
    from mlops_tui.services.audit import check_rows
    from mlops_tui.services.context import Context

    model_rows, event_rows = rows(models, events, **kw)
    check_rows(event_rows)  # the audit chain's hashes, as the tool would have written them
    with gate.scratch(store), store.transaction() as tx:  # the benchmark's own database
        tx.restore({"model": model_rows, "event": event_rows})
    checkpoints.keep(Context(store, "bench"))  # as an import makes them
