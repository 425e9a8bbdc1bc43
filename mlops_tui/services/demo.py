"""A realistic team to explore: people, models spread over every stage, months of history.

The history is made by the same use cases a person would run, on a simulated clock, so the
demo never shows a state the rules would not allow.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from mlops_tui.domain import STAGES, Role, Stage
from mlops_tui.services import builds, lifecycle
from mlops_tui.services.context import Context
from mlops_tui.store import Store

PEOPLE = ("amara", "bruno", "chen", "dana", "eli", "farah", "gus", "hana")
BASES = (
    ("churn-predictor", "Monthly churn risk for subscribers", ["tabular", "retention"]),
    ("fraud-detector", "Card-not-present fraud scoring at checkout", ["tabular", "realtime"]),
    ("demand-forecast", "Daily demand per store and SKU", ["timeseries", "supply"]),
    ("search-ranker", "Learning-to-rank for site search", ["ranking", "realtime"]),
    ("recsys-home", "Home page recommendations", ["ranking", "personalisation"]),
    ("ltv-estimator", "Customer lifetime value for marketing bids", ["tabular", "marketing"]),
    ("credit-scorer", "Small-business credit limits", ["tabular", "regulated"]),
    ("eta-predictor", "Delivery time estimates", ["timeseries", "logistics"]),
    ("spam-filter", "Marketplace listing spam", ["nlp"]),
    ("image-tagger", "Product photo attributes", ["vision"]),
    ("sentiment-analyzer", "Support ticket sentiment and urgency", ["nlp", "support"]),
    ("price-optimizer", "Markdown pricing for clearance", ["tabular", "pricing"]),
)
REGIONS = ("eu", "us", "apac", "latam", "mea")
REWORK_NOTES = (
    "validation AUC dropped on the holdout month",
    "feature pipeline changed upstream; retrain",
    "latency above budget in load test",
    "label leakage found in the training window",
)
ITERATION_NOTES = ("quarterly retrain", "new data source available", "drift on key features")


def _names(count: int) -> list[tuple[str, str, list[str]]]:
    out = []
    for i in range(count):
        name, desc, tags = BASES[i % len(BASES)]
        cycle = i // len(BASES)
        if cycle:
            region = REGIONS[(cycle - 1) % len(REGIONS)]
            suffix = region if cycle <= len(REGIONS) else f"{region}{cycle}"
            name, desc = f"{name}-{suffix}", f"{desc} ({region.upper()})"
        out.append((name, desc, tags))
    return out


class _Clock:
    """Simulated time that only moves forward and never passes `now`."""

    def __init__(self, start: datetime, now: datetime) -> None:
        self.t, self.now = start, now

    def __call__(self) -> datetime:
        return self.t

    def advance(self, delta: timedelta) -> None:
        self.t = min(self.t + delta, self.now - timedelta(seconds=1))


def _ci_builds(ctx: Context, name: str, rng: random.Random, clock: _Clock) -> int:
    """Builds reported by the team's CI: sometimes a failure first, then a success.
    Returns how many events that wrote (two a build)."""
    outcomes = [True, False] if rng.random() < 0.2 else [False]
    for failed in outcomes:
        clock.advance(timedelta(minutes=rng.randint(5, 90)))
        builds.record(
            ctx,
            name,
            commit=f"{rng.getrandbits(160):040x}",
            image=f"registry.example.com/ml/{name}:{rng.getrandbits(24):06x}",
            failed=failed,
            url=f"https://ci.example.com/ml/{name}/{rng.randint(100, 999)}",
        )
    return 2 * len(outcomes)


def seed(store: Store, *, models: int = 24, seed: int = 7, now: datetime | None = None) -> int:
    """Add `models` demo models with their history; returns how many events were written."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    written = 0
    for index, (name, description, tags) in enumerate(_names(models)):
        clock = _Clock(
            now - timedelta(days=rng.randint(60, 270), minutes=rng.randint(0, 1440)), now
        )
        owner = rng.choice(PEOPLE)

        def ctx(actor: str, clock: _Clock = clock) -> Context:
            return Context(store, actor, clock=clock)

        lifecycle.add_model(
            ctx(owner),
            name,
            owner=owner,
            description=description,
            tags=tags,
            repo=f"git@git.example.com:ml/{name}.git",
        )
        written += 1
        backup = rng.choice([p for p in PEOPLE if p != owner])
        clock.advance(timedelta(hours=rng.randint(1, 48)))
        lifecycle.set_role(ctx(owner), name, backup, role=Role.BACKUP)
        written += 1
        # Where this model stands today: spread evenly over the loop.
        target = STAGES[index % len(STAGES)]
        laps = rng.choice((0, 0, 1, 1, 2))
        steps = laps * len(STAGES) + target.index
        stage = Stage.PLAN
        span = now - clock.t
        for _ in range(steps):
            clock.advance(span * rng.uniform(0.2, 1.6) / (steps + 3))
            actor = rng.choice((owner, owner, backup, rng.choice(PEOPLE)))
            nxt = stage.next()
            note = ITERATION_NOTES[rng.randrange(3)] if nxt == Stage.PLAN else None
            if stage == Stage.BUILD:
                written += _ci_builds(ctx(actor), name, rng, clock)
            lifecycle.move(ctx(actor), name, nxt, note=note)
            written += 1
            stage = nxt
            if stage in (Stage.TEST, Stage.DEPLOY) and rng.random() < 0.15:
                clock.advance(timedelta(hours=rng.randint(2, 30)))
                back = Stage.BUILD
                lifecycle.move(ctx(actor), name, back, note=rng.choice(REWORK_NOTES))
                clock.advance(timedelta(hours=rng.randint(2, 30)))
                for s in STAGES[back.index + 1 : stage.index + 1]:
                    if s == Stage.TEST:
                        written += _ci_builds(ctx(actor), name, rng, clock)
                    lifecycle.move(ctx(actor), name, s)
                    written += 1
                written += 1
        if rng.random() < 0.25:
            clock.advance(timedelta(days=rng.randint(1, 20)))
            new_owner = rng.choice([p for p in PEOPLE if p not in (owner, backup)])
            lifecycle.set_role(ctx(owner), name, new_owner, role=Role.OWNER)
            written += 1
        oncall = rng.choice(PEOPLE)
        if stage in (Stage.DEPLOY, Stage.MONITOR) and oncall != backup:
            lifecycle.set_role(ctx(rng.choice(PEOPLE)), name, oncall, role=Role.ONCALL)
            written += 1
    return written
