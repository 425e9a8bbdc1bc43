"""Checking production models: health path, Prometheus metrics against thresholds, an optional
PromQL query; each result kept as a time series, the model's health updated, alerts opened on a
critical threshold and, with on_drift = "plan", the model sent back to Plan.

Health rule (one for every screen): a check's health is the worst of its results (a model
that does not answer is critical). A production model with no successful check within its
[monitor].max_age (24 h by default; counted from its deployment until the first check) reads
as `stale`, unless its stored health is critical, which stays visible. services/queries.py
applies it, and `mlops status`, the board and the detail all read through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypedDict

from mlops_tui import domain, modelconfig
from mlops_tui.domain import (
    ALERT_ACKED,
    ALERT_OPENED,
    ALERT_RESOLVED,
    CHECK_RAN,
    Alert,
    AlertStatus,
    Check,
    Deployment,
    Health,
    Model,
    NewEvent,
    Stage,
    TestRun,
)
from mlops_tui.errors import (
    Conflict,
    InvalidInput,
    MetricsError,
    MlopsError,
    NotFound,
    NothingToCheck,
    PermissionDenied,
)
from mlops_tui.services import (
    gate,
    loopcfg,
)
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from mlops_tui.store.schema import Not, Since

UP = "up"  # the health check as a series: 1 answered, 0 did not


class AlertSpec(TypedDict):
    """An alert a check opens: the store keeps these fields on the alert's row."""

    metric: str
    value: float
    threshold: float | None
    detail: str


@dataclass
class CheckOutcome:
    model: str
    check: Check
    results: list[tuple[str, float | None, Health]]
    opened: list[Alert] = field(default_factory=list)
    moved_to_plan: str | None = None  # the note, when drift sent the model back to Plan
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line per model, for `mlops check` and `--watch`."""
        parts = [f"{self.model} v{self.check.version}: {self.check.health}"]
        shown = [
            f"{m}={_num(v)}" + ("" if s == Health.OK else f" ({s})")
            for m, v, s in self.results
            if m != UP
        ]
        if shown:
            parts.append(", ".join(shown))
        parts += self.problems
        for alert in self.opened:
            parts.append(f"alert #{alert.id} opened")
        if self.moved_to_plan:
            parts.append("moved back to plan")
        return " · ".join(parts)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def _probe(cfg: modelconfig.ModelConfig) -> tuple[float | None, str | None]:
    """(1.0 answered / 0.0 did not, why not); (None, None) when nothing is configured."""
    from mlops_tui.adapters import health

    if cfg.deploy_health_command:
        why = health.probe_command(cfg.deploy_health_command)
    elif cfg.deploy_health and cfg.deploy_port:
        why = health.probe_http(cfg.deploy_port, cfg.deploy_health)
    else:
        return None, None
    return (0.0, why) if why else (1.0, None)


def _measure(
    cfg: modelconfig.ModelConfig,
) -> tuple[list[tuple[str, float | None, Health]], list[str], bool, list[AlertSpec]]:
    """Run the checks; returns (results, problems, answered, alert specs)."""
    from mlops_tui.adapters import metrics

    results: list[tuple[str, float | None, Health]] = []
    problems: list[str] = []
    alerts: list[AlertSpec] = []
    up, why = _probe(cfg)
    answered = up != 0.0
    if up is not None:
        results.append((UP, up, Health.OK if up else Health.CRITICAL))
        if why:
            problems.append(f"down: {why}")
            alerts.append({"metric": UP, "value": 0.0, "threshold": None, "detail": why})
    values: dict[str, float] = {}
    if cfg.monitor_metrics and cfg.deploy_port:
        try:
            values.update(
                metrics.scrape(f"http://127.0.0.1:{cfg.deploy_port}{cfg.monitor_metrics}")
            )
            if up is None:
                answered = True
        except MetricsError as exc:
            problems.append(f"metrics: {exc.message}")
            if up is None:
                answered = False
    if cfg.monitor_prometheus and cfg.monitor_query:
        try:
            values.update(metrics.query(cfg.monitor_prometheus, cfg.monitor_query))
        except MetricsError as exc:
            problems.append(f"prometheus: {exc.message}")
    for t in cfg.monitor_thresholds:
        value = values.get(t.metric)
        if value is None:
            if answered:
                problems.append(f"{t.metric}: not reported")
            results.append((t.metric, None, Health.WARN if answered else Health.CRITICAL))
            continue
        status = domain.threshold_status(value, t.warn, t.critical)
        results.append((t.metric, value, status))
        if status == Health.CRITICAL:
            alerts.append(
                {
                    "metric": t.metric,
                    "value": value,
                    "threshold": t.critical,
                    "detail": f"{t.metric} = {value:g} ≥ critical {t.critical:g}",
                }
            )
    return results, problems, answered, alerts


@gate.writes("check")
def check_model(ctx: Context, model: Model) -> CheckOutcome:
    """Check one production model and record the outcome. Raises InvalidInput when it has
    no production version."""
    if model.production_version is None:
        raise InvalidInput(f"{model.name} has no production version: deploy it first")
    v = loopcfg.version_of(ctx, model, model.production_version)
    cfg = loopcfg.config_of(model, v)
    checkable = (cfg.deploy_port and (cfg.deploy_health or cfg.monitor_metrics)) or (
        cfg.deploy_health_command or (cfg.monitor_prometheus and cfg.monitor_query)
    )
    if not checkable:
        raise NothingToCheck(
            f"{model.name} v{v.number}: nothing to check: set [deploy].port with health or "
            "[monitor].metrics (or health_command, or prometheus and query) in mlops.toml"
        )
    results, problems, answered, specs = _measure(cfg)
    if not answered:
        health = Health.CRITICAL
    else:
        health = domain.worst([s for _, _, s in results] or [Health.OK])
    now = ctx.clock()
    clock = ctx.store.monitoring(model.name)
    stale_at: datetime | None
    if answered:
        stale_at = now + timedelta(seconds=cfg.monitor_max_age)
    elif clock is not None:
        stale_at = clock["stale_at"]
    else:
        stale_at = now
    critical_metrics = {s["metric"] for s in specs}
    recovered = [m for m, v, s in results if m not in critical_metrics and v is not None]
    detail = "; ".join(problems)
    check, opened = record(
        ctx,
        model.name,
        version=v.number,
        health=health,
        ok=answered,
        detail=detail,
        results=results,
        stale_at=stale_at,
        alerts=specs,
        recovered=recovered,
    )
    outcome = CheckOutcome(model.name, check, results, opened, problems=problems)
    if cfg.monitor_on_drift == "plan":
        drift = [a for a in opened if a.metric != UP]
        if drift and model.stage != Stage.PLAN:
            outcome.moved_to_plan = _back_to_plan(ctx, model.name, drift[0])
    return outcome


def record(
    ctx: Context,
    name: str,
    *,
    version: int | None,
    health: Health,
    ok: bool,
    detail: str,
    results: Sequence[tuple[str, float | None, Health]],
    stale_at: datetime | None,
    alerts: Sequence[Mapping[str, Any]] = (),
    recovered: Sequence[str] = (),
) -> tuple[Check, list[Alert]]:
    """Store one check in one transaction: its row, a time-series row per metric, the
    monitoring clock (stale_at; last_ok_at moves only when the model answered), the alerts
    it opens and those it resolves. The model's health and history change only when its
    health does, so a check every 30 s neither floods the history nor bumps the revision
    others hold; a metric has at most one unresolved alert. Returns (check, alerts opened)."""
    at = ctx.clock()
    with ctx.store.transaction() as tx:
        current = tx.models.lock(name)
        check = tx.rows(schema.CHECKS).insert(
            {
                "model": name,
                "at": at,
                "version": version,
                "health": health,
                "ok": ok,
                "detail": detail,
                "actor": ctx.actor,
            }
        )
        tx.rows(schema.CHECK_RESULTS).insert_many(
            {"check_id": check.id, "model": name, "at": at, "metric": m, "value": v, "status": s}
            for m, v, s in results
        )
        if stale_at is not None:
            clock = {"model": name, "stale_at": stale_at, "last_check_at": at}
            clock["last_ok_at"] = at if ok else None
            tx.rows(schema.MONITORING).upsert(clock, ["model"], keep=["last_ok_at"])
        # Events go last: the audit chain is serialised from the first append to the commit.
        appends: list[NewEvent] = []
        if current.health != health:
            event = ctx.event(
                CHECK_RAN,
                name,
                version=version,
                check=check.id,
                health=str(health),
                before=str(current.health),
            )
            tx.models.revise_held(name, {"health": health}, event)
            appends.append(event)
        rows = tx.rows(schema.ALERTS)
        unresolved = Not(AlertStatus.RESOLVED)
        opened: list[Alert] = []
        for spec in alerts:
            metric = spec["metric"]
            if rows.get(model=name, metric=metric, status=unresolved) is not None:
                continue
            alert = rows.insert(
                {
                    "model": name,
                    "metric": metric,
                    "value": spec.get("value"),
                    "threshold": spec.get("threshold"),
                    "status": AlertStatus.OPEN,
                    "opened_at": at,
                    "detail": spec.get("detail", ""),
                }
            )
            opened.append(alert)
            appends.append(
                ctx.event(
                    ALERT_OPENED,
                    name,
                    metric=metric,
                    detail=spec.get("detail", ""),
                    alert=alert.id,
                    check=check.id,
                )
            )
        for metric in recovered:
            resolved = {"status": AlertStatus.RESOLVED, "resolved_at": at}
            done = rows.update(resolved, model=name, metric=metric, status=unresolved)
            if done is not None:
                appends.append(
                    ctx.event(ALERT_RESOLVED, name, metric=metric, alert=done.id, check=check.id)
                )
        for event in appends:
            tx.events.append(event)
    return check, opened


def _back_to_plan(ctx: Context, name: str, alert: Alert) -> str | None:
    """Send a drifting model back to Plan through the move rules (a new iteration from
    monitor, rework from elsewhere); the production version keeps serving."""
    from mlops_tui.services import lifecycle

    if alert.threshold is not None:
        what = f"{alert.metric} = {_num(alert.value)} ≥ critical {_num(alert.threshold)}"
    else:
        what = f"{alert.metric}" + (f" ({alert.detail})" if alert.detail else "")
    note = (
        f"drift: {what} (alert #{alert.id}); "
        f"v{ctx.store.get_model(name).production_version} keeps serving"
    )
    try:
        lifecycle.move(ctx, name, Stage.PLAN, note=note)
    except MlopsError:
        return None
    return note


class Notified(NamedTuple):
    """One alert of an Alertmanager notification, as the team's monitoring raised it."""

    model: str
    name: str  # its alertname: the alert's metric here
    firing: bool
    fingerprint: str
    detail: str = ""
    value: float | None = None
    #: whether it may apply the model's `[monitor].on_drift` (a rule labelled
    #: `on_drift: alert`, such as "no check for a day", only ever opens an alert)
    drift: bool = True


@dataclass
class Received:
    """What a notification changed: the alerts opened and resolved, the models sent back
    to Plan (name -> the move's note), and how many firing alerts were open already."""

    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    moved_to_plan: dict[str, str] = field(default_factory=dict)
    known: int = 0


@gate.writes("alertmanager")
def receive(ctx: Context, notified: Sequence[Notified]) -> Received:
    """Alerts raised by the team's own Prometheus rules, delivered by Alertmanager: a firing
    one opens an alert on its model and applies the model's `[monitor].on_drift` as a check
    would (unless the rule's labels say `on_drift: alert`); a resolved one resolves it.
    Alertmanager repeats itself (every repeat interval, and a group's notification carries
    every alert still firing), so an alert is known by its fingerprint and a repeat changes
    nothing. Every model is looked up before anything is written: one unknown name refuses
    the whole notification."""
    names = sorted({n.model for n in notified})
    models = {}
    for name in names:
        models[name] = ctx.store.get_model(domain.validate_model_name(name))
    for model in models.values():
        gate.check(ctx, model)
    out = Received()
    at = ctx.clock()
    with ctx.store.transaction() as tx:
        for name in names:  # in name order, so two notifications never wait on each other
            tx.models.lock(name)
        rows = tx.rows(schema.ALERTS)
        unresolved = Not(AlertStatus.RESOLVED)
        appends: list[NewEvent] = []
        for n in notified:
            known = rows.get(model=n.model, fingerprint=n.fingerprint, status=unresolved)
            if n.firing and known is None:
                alert = rows.insert(
                    {
                        "model": n.model,
                        "metric": n.name,
                        "value": n.value,
                        "threshold": None,
                        "status": AlertStatus.OPEN,
                        "opened_at": at,
                        "detail": n.detail,
                        "fingerprint": n.fingerprint,
                    }
                )
                out.opened.append(alert)
                appends.append(
                    ctx.event(
                        ALERT_OPENED,
                        n.model,
                        metric=n.name,
                        detail=n.detail,
                        alert=alert.id,
                        source="alertmanager",
                        fingerprint=n.fingerprint,
                    )
                )
            elif not n.firing and known is not None:
                done = rows.update({"status": AlertStatus.RESOLVED, "resolved_at": at}, id=known.id)
                assert done is not None  # the model's row is held: nobody resolved it since
                out.resolved.append(done)
                appends.append(
                    ctx.event(
                        ALERT_RESOLVED,
                        n.model,
                        metric=n.name,
                        alert=known.id,
                        source="alertmanager",
                    )
                )
            elif n.firing:  # a repeat of an alert already open
                out.known += 1
            # else: the resolution of an alert not open (resolved already, or never seen)
        for event in appends:
            tx.events.append(event)
    drifting = {(n.model, n.fingerprint) for n in notified if n.drift}
    for alert in out.opened:
        model = models[alert.model]
        if (alert.model, alert.fingerprint) not in drifting:
            continue
        if alert.model in out.moved_to_plan or model.stage == Stage.PLAN:
            continue
        if _on_drift(ctx, model) == "plan":
            note = _back_to_plan(ctx, alert.model, alert)
            if note is not None:
                out.moved_to_plan[alert.model] = note
    return out


def _on_drift(ctx: Context, model: Model) -> str | None:
    """The production version's `[monitor].on_drift`, or None when it has none to read."""
    if model.production_version is None:
        return None
    try:
        v = loopcfg.version_of(ctx, model, model.production_version)
        return loopcfg.config_of(model, v).monitor_on_drift
    except MlopsError:
        return None


@gate.writes("check", model="name")
def check_round(
    ctx: Context, name: str | None = None
) -> list[tuple[Model, CheckOutcome | MlopsError]]:
    """One round: `name`, or every production model, each with its outcome or why it could
    not be checked (NothingToCheck among them), so one model's trouble never stops the
    others. With `name`, its error is raised instead."""
    if name is not None:
        model = ctx.store.get_model(domain.validate_model_name(name))
        return [(model, check_model(ctx, model))]
    out: list[tuple[Model, CheckOutcome | MlopsError]] = []
    for m in production_models(ctx):
        try:
            out.append((m, check_model(ctx, m)))
        except PermissionDenied:
            raise
        except MlopsError as exc:
            out.append((m, exc))
    return out


@gate.writes("check", model="name")
def check(ctx: Context, name: str | None = None) -> list[CheckOutcome]:
    """Check `name`, or every model with a production version (skipping those whose
    mlops.toml configures nothing to check: deployed elsewhere, checked elsewhere)."""
    if name is not None:
        return [check_model(ctx, ctx.store.get_model(domain.validate_model_name(name)))]
    outcomes = []
    for m in production_models(ctx):
        try:
            outcomes.append(check_model(ctx, m))
        except NothingToCheck:
            continue
    return outcomes


def production_models(ctx: Context) -> list[Model]:
    return [m for m in ctx.store.list_models() if m.production_version is not None]


def alerts(ctx: Context, name: str | None = None, *, include_resolved: bool = False) -> list[Alert]:
    if name is not None:
        ctx.store.get_model(domain.validate_model_name(name))
    if include_resolved:
        return ctx.store.rows(schema.ALERTS, model=name)
    return ctx.store.rows(schema.ALERTS, model=name, status=Not(AlertStatus.RESOLVED))


@gate.writes("alert")
def ack(ctx: Context, alert_id: int, note: str | None = None) -> Alert:
    """Acknowledge an open alert: someone is on it. It stays listed until it resolves."""
    note = domain.clean_text(note, "note", domain.MAX_NOTE)
    alert = ctx.store.row(schema.ALERTS, id=alert_id)
    if alert is None:
        raise NotFound(f"no alert #{alert_id}", cli="see `mlops alerts --all`")
    gate.check(ctx, ctx.store.get_model(alert.model))
    event = ctx.event(ALERT_ACKED, alert.model, alert=alert.id, metric=alert.metric)
    if note:
        event = event.add(note=note)
    acked = {"status": AlertStatus.ACKNOWLEDGED, "acked_at": event.at, "acked_by": ctx.actor}
    with ctx.store.transaction() as tx:
        rows = tx.rows(schema.ALERTS)
        done = rows.update({**acked, "note": note}, id=alert_id, status=AlertStatus.OPEN)
        if done is None:
            now = rows.get(id=alert_id)
            if now is None:
                raise NotFound(f"no alert #{alert_id}", cli="see `mlops alerts --all`")
            by = f" by {now.acked_by}" if now.acked_by else ""
            raise Conflict(f"alert #{alert_id} is already {now.status}{by}")
        tx.events.append(event)
    return done


def series(ctx: Context, name: str, since: datetime | None = None) -> dict[str, list[float]]:
    """Each threshold metric's recent values, oldest first, for sparklines."""
    since = since or ctx.clock() - timedelta(days=7)
    out: dict[str, list[float]] = {}
    for r in ctx.store.rows(schema.CHECK_RESULTS, model=name, at=Since(since), order="at, metric"):
        if r.metric != UP and r.value is not None:
            out.setdefault(r.metric, []).append(r.value)
    return out


@dataclass
class LoopSummary:
    """What the model detail shows about the loop's evidence."""

    series: dict[str, list[float]]
    thresholds: dict[str, tuple[float | None, float | None]]  # metric -> (warn, critical)
    last_check: Check | None
    alerts: list[Alert]
    last_test: TestRun | None
    last_deployment: Deployment | None


def summary(ctx: Context, name: str) -> LoopSummary:
    name = domain.validate_model_name(name)
    model = ctx.store.get_model(name)
    thresholds: dict[str, tuple[float | None, float | None]] = {}
    if model.production_version is not None:
        try:
            v = loopcfg.version_of(ctx, model, model.production_version)
            cfg = loopcfg.config_of(model, v)
            thresholds = {t.metric: (t.warn, t.critical) for t in cfg.monitor_thresholds}
        except MlopsError:
            thresholds = {}
    tests = ctx.store.rows(schema.TEST_RUNS, model=name, limit=1)
    deps = ctx.store.rows(schema.DEPLOYMENTS, model=name, limit=1)
    return LoopSummary(
        series=series(ctx, name),
        thresholds=thresholds,
        last_check=ctx.store.row(schema.CHECKS, model=name),
        alerts=ctx.store.rows(schema.ALERTS, model=name, status=Not(AlertStatus.RESOLVED)),
        last_test=tests[0] if tests else None,
        last_deployment=deps[0] if deps else None,
    )
