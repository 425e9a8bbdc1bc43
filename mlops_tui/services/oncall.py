"""The on-call review: every production model, who answers for it, and what needs someone.

One list, most urgent first, built from the store's evidence (checks, deployments, alerts)
and the team (who left, who is on call). `needs_attention` is what a shift hand-over script
gates on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mlops_tui import domain
from mlops_tui.domain import MODEL_LINKED, Alert, AlertStatus, Health, Model, RunStatus
from mlops_tui.errors import InvalidInput
from mlops_tui.services import gate, team
from mlops_tui.services.context import Context
from mlops_tui.store import Store, schema
from mlops_tui.store.schema import LINKS, Not

RUNBOOK = "runbook"


@dataclass(frozen=True, slots=True)
class LastDeploy:
    version: int
    at: datetime
    by: str
    kind: str = "deploy"


@dataclass(frozen=True, slots=True)
class Review:
    """One production model as the on-call engineer needs to see it."""

    model: Model
    orphaned: bool
    stale: bool
    last_check_at: datetime | None
    last_deploy: LastDeploy | None
    open_alerts: list[Alert]  # unresolved, newest first
    runbook: str | None
    problems: list[str] = field(default_factory=list)
    urgency: int = 0

    @property
    def needs_attention(self) -> bool:
        return self.urgency >= _ATTENTION

    @property
    def unacked(self) -> list[Alert]:
        return [a for a in self.open_alerts if str(a.status) == "open"]


_ATTENTION = 20


def _score(r: Review, now: datetime, stale_after: timedelta) -> tuple[int, list[str]]:
    m = r.model
    score = 0
    problems: list[str] = []
    if m.health == Health.CRITICAL:
        score, problems = score + 100, [*problems, "critical"]
    if r.unacked:
        score += 80 + len(r.unacked)
        problems.append(f"{len(r.unacked)} open alert{'s' if len(r.unacked) > 1 else ''}")
    if r.orphaned:
        score += 60
        problems.append(f"orphaned ({m.owner} left)")
    if m.health == Health.WARN:
        score += 50
        problems.append("warn")
    if r.stale:
        score += 40
        if r.last_check_at is None:
            problems.append("never checked")
        else:
            problems.append(f"stale (no check for {_span(now - r.last_check_at)})")
    acked = len(r.open_alerts) - len(r.unacked)
    if acked:
        score += 25
        problems.append(f"{acked} acknowledged alert{'s' if acked > 1 else ''}")
    if not m.oncall:
        score += 20
        problems.append("nobody on call")
    if not r.runbook:
        score += 5
        problems.append("no runbook")
    return score, problems


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.0f}d"


def review(ctx: Context) -> list[Review]:
    """Every model with a production version, most urgent first."""
    store = ctx.store
    now = ctx.clock()
    stale_after = timedelta(hours=int(team.get_setting(ctx, "check_stale_hours")))
    models = [m for m in store.list_models() if m.production_version is not None]
    if not models:
        return []
    left = store.inactive_users()
    runbooks = store.links(RUNBOOK)
    alerts: dict[str, list[Alert]] = {}
    for alert in store.rows(schema.ALERTS, status=Not(AlertStatus.RESOLVED)):
        alerts.setdefault(alert.model, []).append(alert)
    stale_models = store.stale_models(now)
    out = []
    for m in models:
        last_check = _last_check(store, m.name)
        stale = (
            m.name in stale_models
            or m.health == Health.STALE
            or last_check is None
            or now - last_check > stale_after
        )
        row = Review(
            model=m,
            orphaned=m.owner in left,
            stale=stale,
            last_check_at=last_check,
            last_deploy=_last_deploy(store, m.name),
            open_alerts=alerts.get(m.name, []),
            runbook=runbooks.get(m.name),
        )
        score, problems = _score(row, now, stale_after)
        out.append(
            Review(
                **{**{f: getattr(row, f) for f in _FIELDS}, "problems": problems, "urgency": score}
            )
        )
    out.sort(key=lambda r: (-r.urgency, r.model.name))
    return out


_FIELDS = (
    "model",
    "orphaned",
    "stale",
    "last_check_at",
    "last_deploy",
    "open_alerts",
    "runbook",
)


def _last_check(store: Store, name: str) -> datetime | None:
    mon = store.monitoring(name)
    last = mon.get("last_check_at") if mon else None
    if last:
        return last
    check = store.row(schema.CHECKS, model=name)
    return check.at if check else None


def _last_deploy(store: Store, name: str) -> LastDeploy | None:
    done = store.rows(schema.DEPLOYMENTS, model=name, status=RunStatus.SUCCEEDED, limit=1)
    if done:
        d = done[0]
        return LastDeploy(d.version, d.finished_at or d.started_at, d.actor, d.kind)
    return None


@gate.writes("runbook", model="name")
def set_runbook(ctx: Context, name: str, url: str | None) -> None:
    """The model's runbook link (http(s) URL), shown in the on-call review; None removes it."""
    name = domain.validate_model_name(name)
    model = ctx.store.get_model(name)
    if url is not None:
        url = url.strip()
        if (
            not url.startswith(("http://", "https://"))
            or len(url) > 2000
            or any(c.isspace() for c in url)
        ):
            raise InvalidInput(f"invalid runbook URL {url[:80]!r}: use http://… or https://…")
    gate.check(ctx, model)
    event = ctx.event(MODEL_LINKED, name, link=RUNBOOK, url=url)
    with ctx.store.transaction() as tx:
        tx.models.lock(name)
        links = tx.rows(LINKS)
        if url is None:
            links.delete(model=name, kind=RUNBOOK)
        else:
            row = {"model": name, "kind": RUNBOOK, "url": url}
            links.upsert(
                {**row, "updated_at": event.at, "updated_by": ctx.actor}, ["model", "kind"]
            )
        tx.events.append(event)
