"""The Prometheus harness itself, against the real binaries: a scrape seen through PromQL, and a
rule's alert going Prometheus → Alertmanager → webhook, firing then resolved. If these fail,
every test built on tests/promstack.py would fail for the harness's reasons, not the tool's."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.promstack import (
    Alertmanager,
    MetricsEndpoint,
    Prometheus,
    ScrapeJob,
    gauge,
    stack,
)
from tests.receiver import Receiver

RULES = """\
groups:
  - name: drift
    rules:
      - alert: ModelDrift
        expr: model_drift_score > 0.5
        for: 0s
        labels:
          severity: critical
        annotations:
          summary: "drift {{ $value }}"
"""


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll fast, give up late: a loaded machine is slow, never wrong."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


def test_prometheus_scrapes_and_answers_promql(tmp_path: Path) -> None:
    with (
        MetricsEndpoint(gauge("model_drift_score", ({}, 0.7)), bearer_token="s3cret") as metrics,
        Prometheus(tmp_path, [ScrapeJob("fraud", [metrics.target], bearer_token="s3cret")]) as prom,
    ):
        (sample,) = prom.wait_for("model_drift_score")
        assert sample["metric"] == {
            "__name__": "model_drift_score",
            "instance": metrics.target,
            "job": "fraud",
        }
        assert float(sample["value"][1]) == 0.7
        assert metrics.scrapes >= 1 and metrics.refused == 0  # the token was sent
        assert "model_drift_score" in prom.logged_queries()
    assert not prom.running


def test_a_rule_fires_and_resolves_through_alertmanager_to_a_webhook(tmp_path: Path) -> None:
    hook = Receiver().start()
    try:
        with (
            MetricsEndpoint(gauge("model_drift_score", ({}, 0.7))) as metrics,
            stack(
                tmp_path,
                [ScrapeJob("fraud", [metrics.target])],
                RULES,
                hook.url,
                bearer_token="hook-token",
            ) as (prom, am),
        ):

            def notified(status: str) -> list[dict[str, Any]]:
                return [r for r in list(hook.received) if r["body"]["status"] == status]

            (firing, *_) = wait_until(lambda: notified("firing"), what="a firing webhook")
            body = firing["body"]
            assert body["version"] == "4" and body["receiver"] == "hook"
            assert firing["headers"]["Authorization"] == "Bearer hook-token"
            (alert,) = body["alerts"]
            assert alert["status"] == "firing"
            assert alert["labels"] == {
                "alertname": "ModelDrift",
                "severity": "critical",
                "instance": metrics.target,
                "job": "fraud",
            }
            assert alert["annotations"] == {"summary": "drift 0.7"}
            assert [a["state"] for a in prom.alerts()] == ["firing"]

            metrics.set(gauge("model_drift_score", ({}, 0.1)))
            (resolved, *_) = wait_until(lambda: notified("resolved"), what="a resolved webhook")
            (alert,) = resolved["body"]["alerts"]
            assert (alert["status"], alert["labels"]["alertname"]) == ("resolved", "ModelDrift")
            assert resolved["headers"]["Authorization"] == "Bearer hook-token"
            assert prom.alerts() == []
        assert not prom.running and not am.running
    finally:
        hook.stop()


def test_alerts_posted_to_alertmanager_reach_the_webhook(tmp_path: Path) -> None:
    hook = Receiver().start()
    try:
        with Alertmanager(tmp_path, hook.url) as am:
            am.post_alerts([{"labels": {"alertname": "Injected", "model": "fraud"}}])
            (got, *_) = wait_until(lambda: list(hook.received), what="a webhook")
            (alert,) = got["body"]["alerts"]
            assert alert["labels"] == {"alertname": "Injected", "model": "fraud"}
            assert "Authorization" not in got["headers"]  # no token configured, none sent
            assert [a["labels"]["alertname"] for a in am.alerts()] == ["Injected"]
    finally:
        hook.stop()
