"""A realistic team to explore: people, models spread over every stage, months of history.

The history is made by the same use cases a person would run, on a simulated clock, so the
demo never shows a state the rules would not allow.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mlops_tui.domain import STAGES, Role, Stage
from mlops_tui.errors import MlopsError
from mlops_tui.services import builds, gate, lifecycle, monitoring
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


def seed(
    store: Store,
    *,
    models: int = 24,
    seed: int = 7,
    now: datetime | None = None,
    me: str | None = None,
) -> int:
    """Add `models` demo models with their history; returns how many events were written.

    `me` (`mlops demo` passes the person running it) is offered a leaver's model in a
    pending handoff.
    """
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    written = _team(store, now)  # people and their roles
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
        steps = laps * len(STAGES) + target.position
        stage = Stage.PLAN
        span = now - clock.t
        for _ in range(steps):
            clock.advance(span * rng.uniform(0.2, 1.6) / (steps + 3))
            actor = rng.choice((owner, owner, backup, rng.choice(PEOPLE)))
            nxt = stage.next()
            note = ITERATION_NOTES[rng.randrange(3)] if nxt == Stage.PLAN else None
            if stage == Stage.BUILD:
                written += _ci_builds(ctx(actor), name, rng, clock)
            written += _evidence(ctx(actor), name, stage, rng, clock)
            lifecycle.move(ctx(actor), name, nxt, note=note)
            written += 1
            stage = nxt
            if stage in (Stage.TEST, Stage.DEPLOY) and rng.random() < 0.15:
                clock.advance(timedelta(hours=rng.randint(2, 30)))
                back = Stage.BUILD
                lifecycle.move(ctx(actor), name, back, note=rng.choice(REWORK_NOTES))
                clock.advance(timedelta(hours=rng.randint(2, 30)))
                for s in STAGES[back.position + 1 : stage.position + 1]:
                    if s == Stage.TEST:
                        written += _ci_builds(ctx(actor), name, rng, clock)
                    written += _evidence(ctx(actor), name, STAGES[s.position - 1], rng, clock)
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
    written += _monitoring(store, rng, now)
    written += _leaver(store, now, me)  # someone who left, handoffs in flight
    return written


# -- the evidence behind test, deploy and monitor ------------------------------------------


def _evidence(ctx: Context, name: str, stage: Stage, rng: random.Random, clock: _Clock) -> int:
    """What the gates ask for before leaving `stage`: a passed test run of the candidate
    before deploy, a successful deployment before monitor. Returns the events written."""
    from mlops_tui.services import deploys, testing

    if stage not in (Stage.TEST, Stage.DEPLOY):
        return 0
    version = ctx.store.get_model(name).version
    if version is None:  # the build gate lets no model past build without one
        raise AssertionError(f"{name} reached {stage} without a version")
    if stage == Stage.TEST:
        outcomes = [False, True] if rng.random() < 0.2 else [True]
        for passed in outcomes:
            clock.advance(timedelta(minutes=rng.randint(5, 40)))
            junit = _junit(rng.randint(40, 120), 0 if passed else rng.randint(1, 4))
            testing.record(
                ctx,
                name,
                version=version,
                passed=passed,
                url=f"https://ci.example.com/ml/{name}/tests/{rng.randint(100, 999)}",
                junit=junit,
            )
        return 2 * len(outcomes)
    clock.advance(timedelta(minutes=rng.randint(2, 30)))
    deploys.record(ctx, name, version=version, url=f"https://argo.example.com/{name}")
    return 2


def _fixed(at: datetime) -> Callable[[], datetime]:
    """A clock stopped at `at`: each check of the simulated history happens at its time."""
    return lambda: at


def _junit(passed: int, failed: int) -> bytes:
    cases = '<testcase name="t"/>' * passed + '<testcase name="f"><failure/></testcase>' * failed
    return f"<testsuite>{cases}</testsuite>".encode()


def _monitoring(store: Store, rng: random.Random, now: datetime) -> int:
    """Four days of checks, every six hours, for each production model: drift scores with
    their statuses, one model drifting past critical (an open alert), and one nobody has
    checked for two days (stale)."""
    from mlops_tui.domain import Health, threshold_status, worst

    before = store.head()
    production = [m for m in store.list_models() if m.production_version is not None]
    stale = production[-1].name if len(production) > 2 else None
    # One model in Monitor drifts past critical: an alert opens and it goes back to Plan.
    drifting = next((m.name for m in production if m.stage == Stage.MONITOR), None)
    for m in production:
        base = rng.uniform(0.04, 0.14)
        points = 16
        for i in range(points):
            at = now - timedelta(hours=6 * (points - i)) + timedelta(minutes=rng.randint(0, 20))
            if m.name == stale and at > now - timedelta(days=2):
                break
            drift = base + rng.uniform(-0.02, 0.03) + (0.025 * i if m.name == drifting else 0)
            drift = round(max(drift, 0.0), 3)
            status = threshold_status(drift, 0.2, 0.3)
            health = worst([Health.OK, status])
            ctx = Context(store, "monitor", clock=_fixed(at))
            alert = status == Health.CRITICAL
            spec = {
                "metric": "model_drift_score",
                "value": drift,
                "threshold": 0.3,
                "detail": f"model_drift_score = {drift:g} ≥ critical 0.3",
            }
            with gate.acting(ctx, "check", m.name):
                _, opened = monitoring.record(
                    ctx,
                    m.name,
                    version=m.production_version,
                    health=health,
                    ok=True,
                    detail="",
                    results=[("up", 1.0, Health.OK), ("model_drift_score", drift, status)],
                    stale_at=at + timedelta(hours=24),
                    alerts=[spec] if alert else [],
                )
            if opened and store.get_model(m.name).stage != Stage.PLAN:
                note = (
                    f"drift: {spec['detail']} (alert #{opened[0].id}); "
                    f"v{m.production_version} keeps serving"
                )
                lifecycle.move(ctx, m.name, Stage.PLAN, note=note)
    return store.head() - before


# -- the team: roles, someone who left, handoffs in flight --------------------------------
# Everyone in PEOPLE works on models (maintainers; amara is the admin); ivan reads only,
# jules is a member who may deploy only the models they own or back up.
ROLES = {"amara": "admin", "ivan": "viewer", "jules": "member"}


def _team(store: Store, now: datetime) -> int:
    from mlops_tui.services import team

    start = now - timedelta(days=300)
    lead = Context(store, "amara", clock=lambda: start)
    for name in ("amara", *PEOPLE[1:], "ivan", "jules"):
        team.add_user(lead, name, role=ROLES.get(name, "maintainer"), email=f"{name}@example.com")
    # The health checks' service account: it records what it measures, and holds nothing.
    team.add_user(lead, "monitor", role="maintainer", bot=True)
    return len(PEOPLE) + 3


def _leaver(store: Store, now: datetime, me: str | None) -> int:
    """The person owning the most models has left: amara deactivates them,
    offers one model to `me` and one to a colleague (who ticked part of the checklist);
    the rest stay orphaned until someone takes them."""
    import contextlib

    from mlops_tui.services import handoffs, team

    before = store.head()
    at = now - timedelta(hours=2)
    lead = Context(store, "amara", clock=lambda: at)
    owned: dict[str, int] = {}
    for m in store.list_models():
        owned[m.owner] = owned.get(m.owner, 0) + 1
    candidates = [p for p in owned if p not in (me, "amara", "monitor")]
    if not candidates:
        return 0
    leaver = max(candidates, key=lambda p: (owned[p], p))
    team.deactivate(lead, leaver)
    theirs = store.list_models(owner=leaver)
    if me is not None:
        if store.get_user(me) is None:
            team.add_user(lead, me, role="maintainer")
        with contextlib.suppress(MlopsError):  # `me` may be a viewer: then no handoff
            handoffs.request(
                lead, theirs[0].name, to=me, note=f"{leaver} left; the runbook is in the wiki"
            )
    colleague = next(p for p in PEOPLE[1:] if p not in (leaver, me))
    if len(theirs) > 1:
        offered = handoffs.request(lead, theirs[1].name, to=colleague, note=f"{leaver} left")
        ticker = Context(store, colleague, clock=lambda: at + timedelta(minutes=30))
        handoffs.tick(ticker, offered.id, ["runbook", "data sources"])
    return store.head() - before
