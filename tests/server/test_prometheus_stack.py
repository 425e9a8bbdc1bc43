"""The team's own monitoring, for real: a deployed model's container, a real Prometheus
scraping it and `mlops serve`, a real Alertmanager posting to `mlops serve`, on both
backends.

A Prometheus rule on the container's `model_drift_score` fires; Alertmanager delivers it
(and repeats it); the model goes back to Plan with the alert on the on-call view; the rule
resolving closes the alert. Along the way `mlops check` reads the same container through
PromQL, Prometheus reads the registry's own series with a bearer token, and a scrape with a
wrong token gets nothing and writes nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_tui.domain import Health, Stage
from mlops_tui.services import deploys, lifecycle, monitoring, oncall, team, tokens
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from tests.loop_model import free_port, serving  # noqa: F401 - serving is a fixture
from tests.promstack import Alertmanager, Prometheus, ScrapeJob
from tests.services.test_deploys import to_deploy
from tests.services.test_monitoring import drift_file

RULES = """
groups:
  - name: models
    rules:
      - alert: ModelDrift
        expr: model_drift_score > 0.3
        labels: {severity: page}
        annotations:
          summary: "drift {{ $value }} over 0.3 on {{ $labels.model }}"
          value: "{{ $value }}"
"""


def until(what: str, done: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `done` until it returns something true; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = done()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Serve:
    """`mlops serve` as its own process, as a team runs it."""

    def __init__(self, db: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, "MLOPS_DB": db}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlops_tui", "serve", "--listen", f"127.0.0.1:{self.port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        until("mlops serve to answer", self.healthy, timeout=30)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                return r.status == 200
        except OSError:
            if self.proc.poll() is not None:
                pytest.fail(f"mlops serve exited: {self.log.read_text()[-800:]}")
            return False

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Serve]:
    server = Serve(db_url, tmp_path / "serve.log")
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=10)


def test_a_prometheus_rule_on_drift_reaches_the_registry_through_alertmanager(
    ctx: Context,
    serving,  # noqa: F811
    served: Serve,
    tmp_path: Path,
) -> None:
    name = serving.name
    team.add_user(ctx, "alertmanager", role="member", bot=True)
    team.add_user(ctx, "prometheus", role="viewer", bot=True)
    _, am_secret = tokens.create(ctx, "alertmanager", for_user="alertmanager")
    _, prom_secret = tokens.create(ctx, "prometheus", for_user="prometheus")
    jobs = [
        ScrapeJob("mlops", [f"127.0.0.1:{served.port}"], bearer_token=prom_secret),
        ScrapeJob("mlops-wrong-token", [f"127.0.0.1:{served.port}"], bearer_token="mlops_x"),
        ScrapeJob(name, [f"127.0.0.1:{serving.port}"], labels={"model": name}),
    ]
    hook = f"{served.url}/hooks/alertmanager"
    with (
        Alertmanager(tmp_path, hook, bearer_token=am_secret) as am,
        Prometheus(tmp_path, jobs, rules=RULES, alertmanager=am.address) as prom,
    ):
        # The model reads its drift through PromQL only (no /metrics of its own in the toml).
        query = f'max by (__name__) (model_drift_score{{model="{name}"}})'
        text = f"""
[test]
command = ["sh", "tests.sh"]
junit = "report.xml"

[deploy]
port = {serving.port}
health = "/health"
timeout = "8s"

[monitor]
prometheus = "{prom.url}"
query = '{query}'
on_drift = "plan"

[[monitor.threshold]]
metric = "model_drift_score"
warn = 0.2
critical = 0.3
"""
        to_deploy(ctx, serving, toml_text=text)
        deploys.deploy(ctx, name)
        lifecycle.move(ctx, name, "monitor")

        # Prometheus scrapes the container and the registry (with its token) ...
        prom.wait_for(f'model_drift_score{{model="{name}"}}', lambda r: r != [])
        stage = f'mlops_model_stage{{job="mlops", model="{name}"}}'
        (series,) = prom.wait_for(stage, lambda r: r != [])
        assert series["metric"]["stage"] == "monitor"
        # ... and a wrong token gets nothing from it.
        (down,) = prom.wait_for('up{job="mlops-wrong-token"}', lambda r: r != [])
        assert down["value"][1] == "0"

        # `mlops check` reads the container's drift through PromQL.
        (checked,) = monitoring.check(ctx, name)
        assert checked.results[-1][:2] == ("model_drift_score", 0.1), checked.line()
        assert checked.check.health == Health.OK

        # The drift goes up: the rule fires, Alertmanager posts, the model goes to Plan.
        drift_file(serving, 0.42)
        model = until(
            "the model back in Plan",
            lambda: (m := ctx.store.get_model(name)).stage == Stage.PLAN and m,
        )
        assert model.production_version == 1  # v1 keeps serving
        (alert,) = monitoring.alerts(ctx, name)
        assert (alert.metric, alert.status) == ("ModelDrift", "open")
        assert alert.fingerprint and alert.value == pytest.approx(0.42)
        opened = ctx.store.rows(schema.EVENTS, model=name, kind="alert.opened")
        assert [(e.actor, e.data["source"]) for e in opened] == [("alertmanager", "alertmanager")]
        (review,) = [r for r in oncall.review(ctx) if r.model.name == name]
        assert [a.id for a in review.open_alerts] == [alert.id]

        # Alertmanager repeats the firing alert every 2 s: still one alert.
        time.sleep(5)
        assert len(ctx.store.rows(schema.ALERTS, model=name)) == 1

        # The drift goes down: the rule resolves, and so does the alert.
        drift_file(serving, 0.05)
        until(
            "the alert resolved",
            lambda: ctx.store.row(schema.ALERTS, id=alert.id).status == "resolved",
        )

    log = served.log.read_text()
    assert "POST /hooks/alertmanager 200 token=alertmanager" in log
    assert "GET /metrics 401 token=-" in log
    assert am_secret not in log and prom_secret not in log
    assert served.stop() == 0
    assert "stopped" in served.log.read_text()
    refused = [e for e in ctx.store.rows(schema.EVENTS) if e.kind == "permission.denied"]
    assert refused == []  # the wrong token was never even a person
