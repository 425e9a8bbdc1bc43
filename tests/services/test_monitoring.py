"""Monitoring real containers: health and Prometheus metrics scraped from 127.0.0.1, thresholds,
the time series, alerts (one per metric, acknowledged, resolved), staleness, and the whole loop
with a drift that sends the model back to Plan. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlops_tui.domain import AlertStatus, Health, Stage
from mlops_tui.errors import Conflict, InvalidInput, NotFound, NothingToCheck
from mlops_tui.services import deploys, monitoring, queries
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from mlops_tui.store.schema import Not
from tests.conftest import known
from tests.loop_model import get, serving  # noqa: F401 - serving is a fixture
from tests.services.test_deploys import to_deploy


def drift_file(serving, value: float) -> None:  # noqa: F811
    """Change what the running container reports: its www folder is in the image, so write
    the file inside the container, as a model's exporter would update its gauge."""
    import docker

    container = docker.from_env().containers.get(f"mlops-{serving.name}")
    text = f"# TYPE model_drift_score gauge\nmodel_drift_score {value}\n"
    code, _ = container.exec_run(["sh", "-c", 'printf "$0" > /www/metrics', text])
    assert code == 0


def test_the_whole_loop_with_a_drift_back_to_plan(
    ctx: Context,
    serving,  # noqa: F811
    docker_client,
) -> None:
    name = to_deploy(ctx, serving)
    deploys.deploy(ctx, name)
    from mlops_tui.services import lifecycle

    lifecycle.move(ctx, name, "monitor")
    (first,) = monitoring.check(ctx, name)
    assert first.check.health == Health.OK and first.check.ok
    assert ("model_drift_score", 0.1, Health.OK) in first.results
    assert ("up", 1.0, Health.OK) in first.results
    assert queries.model(ctx, name).health == Health.OK

    drift_file(serving, 0.25)
    (warned,) = monitoring.check(ctx, name)
    assert warned.check.health == Health.WARN and warned.opened == []

    drift_file(serving, 0.42)
    (drifted,) = monitoring.check(ctx, name)
    assert drifted.check.health == Health.CRITICAL
    (alert,) = drifted.opened
    assert (alert.metric, alert.value, alert.threshold, alert.status) == (
        "model_drift_score",
        0.42,
        0.3,
        "open",
    )
    assert "moved back to plan" in drifted.line()
    model = queries.model(ctx, name)
    assert (model.stage, model.iteration, model.production_version) == (Stage.PLAN, 2, 1)
    moved = next(e for e in queries.history(ctx, model=name) if e.kind == "stage.moved")
    assert moved.data["move"] == "iteration"
    assert "drift: model_drift_score = 0.42 ≥ critical 0.3" in moved.data["note"]
    assert get(serving.port, "/health") == (200, "ok\n")  # v1 keeps serving

    (again,) = monitoring.check(ctx, name)
    assert again.opened == [] and len(monitoring.alerts(ctx, name)) == 1  # one per metric
    assert queries.model(ctx, name).stage == Stage.PLAN  # not moved twice

    series = monitoring.series(ctx, name)
    assert series["model_drift_score"] == [0.1, 0.25, 0.42, 0.42]

    # A new version goes round: built, tested, deployed; its metrics are back to normal.
    to_deploy(ctx, serving, drift=0.05, message="retrained on fresh data")
    result = deploys.deploy(ctx, name)
    assert (result.model.production_version, result.deployment.previous_version) == (2, 1)
    lifecycle.move(ctx, name, "monitor")
    (healed,) = monitoring.check(ctx, name)
    assert healed.check.health == Health.OK and healed.check.version == 2
    assert monitoring.alerts(ctx, name) == []  # resolved by the recovery
    (resolved,) = monitoring.alerts(ctx, name, include_resolved=True)
    assert resolved.status == "resolved"
    kinds = [e.kind for e in reversed(queries.history(ctx, model=name, limit=0))]
    for step in (
        "build.finished",
        "test.finished",
        "deploy.finished",
        "check.ran",
        "alert.opened",
        "alert.resolved",
    ):
        assert step in kinds, step


def test_alerts_are_acknowledged_once(ctx: Context, serving) -> None:  # noqa: F811
    name = to_deploy(ctx, serving, drift=0.9)
    deploys.deploy(ctx, name)
    (outcome,) = monitoring.check(ctx, name)
    (alert,) = outcome.opened
    assert queries.model(ctx, name).stage == Stage.PLAN  # from deploy: rework with the note
    acked = monitoring.ack(ctx, alert.id, note="retraining")
    assert (acked.status, acked.acked_by, acked.note) == ("acknowledged", "alice", "retraining")
    assert ctx.store.rows(schema.ALERTS, model=name, status=Not(AlertStatus.RESOLVED)) == [
        acked
    ]  # still unresolved, but someone is on it
    with pytest.raises(Conflict, match="already acknowledged by alice"):
        monitoring.ack(ctx, alert.id)
    with pytest.raises(NotFound, match="no alert #999"):
        monitoring.ack(ctx, 999)
    monitoring.check(ctx, name)
    assert len(ctx.store.rows(schema.ALERTS, model=name, limit=100)) == 1


def test_a_model_that_does_not_answer_is_critical(ctx: Context, serving, docker_client) -> None:  # noqa: F811
    name = to_deploy(ctx, serving)
    deploys.deploy(ctx, name)
    docker_client.containers.get(f"mlops-{name}").stop(timeout=1)
    (down,) = monitoring.check(ctx, name)
    assert down.check.health == Health.CRITICAL and not down.check.ok
    assert down.opened[0].metric == "up" and "down:" in down.line()
    assert queries.model(ctx, name).stage == Stage.DEPLOY  # down is an alert, not drift


def test_no_good_check_within_max_age_reads_as_stale(ctx: Context, serving) -> None:  # noqa: F811
    name = to_deploy(ctx, serving)
    deploys.deploy(ctx, name)
    monitoring.check(ctx, name)
    assert queries.model(ctx, name).health == Health.OK
    later = Context(ctx.store, "alice", clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    assert queries.model(later, name).health == Health.STALE  # max_age = 1h
    (row,) = [r for r in queries.status(later) if r.name == name]
    assert row.health == "stale"
    assert {m.name: m.health for m in queries.models(later)}[name] == Health.STALE
    monitoring.check(later, name)  # a good check makes it fresh again
    assert queries.model(later, name).health == Health.OK


def test_checking_a_model_without_production_is_refused(ctx: Context) -> None:
    from mlops_tui.services import lifecycle

    known(ctx, "bob")
    lifecycle.add_model(ctx, "fraud", owner="bob")
    with pytest.raises(InvalidInput, match="no production version"):
        monitoring.check(ctx, "fraud")
    assert monitoring.check(ctx) == []
    # Deployed by another system, with no health check or metrics configured: skipped by
    # `check` of all models, one clear error for `check NAME`, nothing recorded either way.
    from mlops_tui.services import builds

    builds.record(ctx, "fraud", commit="a" * 40, image="reg/fraud:1")
    deploys.record(ctx, "fraud", version=1)
    assert monitoring.check(ctx) == []
    with pytest.raises(NothingToCheck, match="fraud v1: nothing to check"):
        monitoring.check(ctx, "fraud")
    assert ctx.store.row(schema.CHECKS, model="fraud") is None


def test_a_promql_query_is_checked_against_its_threshold(ctx: Context, gitrepo, tmp_path) -> None:
    """PromQL through a real Prometheus's HTTP API: it scrapes a drift gauge with two series
    from an exporter on 127.0.0.1, and the model's query aggregates them to the worst one."""
    from mlops_tui.services import builds, lifecycle
    from tests.promstack import MetricsEndpoint, Prometheus, ScrapeJob, gauge

    promql = 'max by (__name__) (model_drift_score{job="fraud"})'
    drift = gauge("model_drift_score", ({"slice": "a"}, 0.35), ({"slice": "b"}, 0.12))
    with (
        MetricsEndpoint(drift) as exporter,
        Prometheus(tmp_path, [ScrapeJob("fraud", [exporter.target])]) as prometheus,
    ):
        prometheus.wait_for(
            'count(model_drift_score{job="fraud"})', lambda r: r != [] and r[0]["value"][1] == "2"
        )
        sha = gitrepo.commit(
            "watched by Prometheus",
            **{
                "mlops.toml": f"""
[monitor]
prometheus = "{prometheus.url}"
query = '{promql}'

[[monitor.threshold]]
metric = "model_drift_score"
warn = 0.2
critical = 0.3
"""
            },
        )
        known(ctx, "bob")
        lifecycle.add_model(ctx, "fraud", owner="bob", repo=str(gitrepo.path))
        builds.record(ctx, "fraud", commit=sha, image="reg/fraud:1")
        deploys.record(ctx, "fraud", version=1)
        before = len(prometheus.logged_queries())
        (outcome,) = monitoring.check(ctx)
        asked = prometheus.logged_queries()[before:]
    assert asked == [promql]  # exactly the configured query, once
    assert outcome.results == [("model_drift_score", 0.35, Health.CRITICAL)]
    (alert,) = outcome.opened
    assert (alert.value, alert.threshold) == (0.35, 0.3)
    assert outcome.moved_to_plan is None  # on_drift defaults to "alert"
    assert queries.model(ctx, "fraud").health == Health.CRITICAL
