"""The registry as Prometheus series: what `GET /metrics` of `mlops serve` exposes.

Each model is a set of `mlops_model_*` series with a `model` label, so that a team's own
Prometheus can hold rules such as "a production model with no successful check for a day"
(`mlops_model_seconds_since_last_ok_check > 86400`) and Grafana can draw the board. A
state (stage, health) is one series per model whose label carries the value, at 1, as
kube-state-metrics does with a pod's phase. A fact a model does not have yet (no production
version, never checked, never deployed) is absent rather than zero, so `absent()` and
`unless` read it correctly.

Everything is read in a handful of queries, whatever the number of models: a scrape of
10,000 models is a budget of `make bench`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlops_tui.domain import AlertStatus, HandoffStatus
from mlops_tui.services import approvals, queries
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from mlops_tui.store.schema import Not


def families(ctx: Context) -> list[Metric]:
    """Every series, read now."""
    store = ctx.store
    now = ctx.clock()
    models = queries.models(ctx)
    left = store.inactive_users()
    alerts = Counter(a.model for a in store.rows(schema.ALERTS, status=Not(AlertStatus.RESOLVED)))
    handoffs = Counter(h.model for h in store.rows(schema.HANDOFFS, status=HandoffStatus.PENDING))
    waiting = Counter(a.model for a in approvals.pending(ctx))
    answered = store.last_ok_checks()
    deploys = store.last_deploys()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ("model",)) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"mlops_model_{name}", doc, labels=list(labels))

    info = gauge(
        "info", "A model and the people answerable for it (1).", ("model", "owner", "backup")
    )
    stage = gauge("stage", "The model's stage in the loop (1).", ("model", "stage"))
    health = gauge(
        "health",
        "The model's health: ok, warn, critical, stale or unknown (1).",
        ("model", "health"),
    )
    latest = gauge("version", "The model's newest version.")
    production = gauge("production_version", "The version serving in production.")
    open_alerts = gauge("open_alerts", "Alerts not resolved yet (acknowledged included).")
    last_ok = gauge(
        "last_ok_check_timestamp_seconds", "When a check last got an answer (Unix time)."
    )
    since_ok = gauge("seconds_since_last_ok_check", "Seconds since a check last got an answer.")
    deployed = gauge(
        "last_deploy_timestamp_seconds",
        "When the newest successful deployment or rollback finished (Unix time).",
    )
    orphaned = gauge("orphaned", "1 when the model's owner has left the team.")
    pending_handoffs = gauge("pending_handoffs", "Handoffs of the model waiting for an answer.")
    pending_approvals = gauge(
        "pending_approvals", "Versions of the model waiting for approval before production."
    )
    stamp = now.timestamp()
    for m in models:
        name = m.name
        info.add_metric((name, m.owner, m.backup or ""), 1)
        stage.add_metric((name, str(m.stage)), 1)
        health.add_metric((name, str(m.health)), 1)
        if m.version is not None:
            latest.add_metric((name,), m.version)
        if m.production_version is not None:
            production.add_metric((name,), m.production_version)
        open_alerts.add_metric((name,), alerts.get(name, 0))
        ok_at = answered.get(name)
        if ok_at is not None:
            last_ok.add_metric((name,), ok_at.timestamp())
            since_ok.add_metric((name,), max(stamp - ok_at.timestamp(), 0.0))
        at = deploys.get(name)
        if at is not None:
            deployed.add_metric((name,), at.timestamp())
        orphaned.add_metric((name,), 1 if m.owner in left else 0)
        pending_handoffs.add_metric((name,), handoffs.get(name, 0))
        pending_approvals.add_metric((name,), waiting.get(name, 0))
    head = GaugeMetricFamily(
        "mlops_history_head", "The newest event's id: it moves on every change."
    )
    head.add_metric((), store.head())
    count = GaugeMetricFamily("mlops_models", "Models in the registry.")
    count.add_metric((), len(models))
    return [
        info,
        stage,
        health,
        latest,
        production,
        open_alerts,
        last_ok,
        since_ok,
        deployed,
        orphaned,
        pending_handoffs,
        pending_approvals,
        count,
        head,
    ]


class RegistryCollector(Collector):
    """A prometheus_client collector that reads the registry at each scrape, through
    whatever Context the caller gives it for that scrape."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        yield from families(self.ctx)


def exposition(ctx: Context) -> bytes:
    """The registry in Prometheus's text format, as `/metrics` serves it."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(RegistryCollector(ctx))
    return generate_latest(registry)
