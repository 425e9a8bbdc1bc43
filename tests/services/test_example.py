"""The demo's example model: a real repository that goes round the whole loop offline, and
whose one documented step (the drift score in www/metrics, committed) makes a new version
drift, so the check opens an alert, sends the model back to Plan, and a rollback helps."""

from __future__ import annotations

import os
import re
from pathlib import Path

import git
import pytest

from mlops_tui import modelconfig
from mlops_tui.domain import Stage
from mlops_tui.services import builds, deploys, example, lifecycle, monitoring, queries, testing
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.loop_model import get, remove_containers


@pytest.fixture
def made(ctx: Context, tmp_path: Path):
    change = example.create(ctx, str(tmp_path))
    yield change.model
    if change.model.repo:  # the loop test leaves a container serving
        from tests import engine

        client, _ = engine.ensure_engine()
        if client is not None:
            remove_containers(client, example.NAME)


def test_the_example_is_a_committed_project_its_owner_can_act_on(
    ctx: Context, made, tmp_path: Path
) -> None:
    assert (made.name, made.owner, made.stage) == (example.NAME, "alice", Stage.PLAN)
    repo = git.Repo(made.repo)
    assert not repo.is_dirty(untracked_files=True)  # everything the loop reads is committed
    committed = {e.path for e in repo.head.commit.tree.traverse()}
    assert {"Dockerfile", "mlops.toml", "tests.sh", "www/health", "www/metrics"} <= committed
    cfg = modelconfig.parse((Path(made.repo) / "mlops.toml").read_text(), "mlops.toml")
    assert cfg.deploy_health == "/health" and cfg.monitor_metrics == "/metrics"
    walkthrough = (Path(made.repo) / "README.md").read_text()
    assert f"sed -i 's/{example.CALM}/{example.DRIFTING}/' www/metrics" in walkthrough
    # The repository is made once: a second demo database reuses it.
    with open_store(str(tmp_path / "again.db")) as other:
        again = example.create(Context(other, "bob"), os.path.dirname(made.repo))
    assert again.model.repo == made.repo and len(list(repo.iter_commits())) == 1


def test_without_an_engine_the_demo_says_why_and_what_to_install(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    note = example.docker_note()
    assert note is not None and "cannot reach the Docker engine" in note
    assert "install docker.io" in note


def port_of(repo: str) -> int:
    found = re.search(r"^port = (\d+)$", (Path(repo) / "mlops.toml").read_text(), re.M)
    assert found is not None
    return int(found.group(1))


def round_the_loop(ctx: Context, name: str) -> None:
    for stage, step in (
        ("build", lambda: builds.build(ctx, name)),
        ("test", lambda: testing.run(ctx, name)),
        ("deploy", lambda: deploys.deploy(ctx, name)),
    ):
        lifecycle.move(ctx, name, stage)
        step()
    lifecycle.move(ctx, name, "monitor")


def test_round_the_loop_then_drift_alert_plan_and_rollback(
    ctx: Context, made, docker_client
) -> None:
    assert example.docker_note() is None  # the base image is made here when missing
    name, port = made.name, port_of(made.repo)
    round_the_loop(ctx, name)
    assert get(port, "/health") == (200, "ok\n")
    (calm,) = monitoring.check(ctx, name)
    assert calm.check.health == "ok" and queries.model(ctx, name).production_version == 1
    # The walk-through's one step: a new score in www/metrics, committed.
    metrics = Path(made.repo) / "www" / "metrics"
    metrics.write_text(metrics.read_text().replace(str(example.CALM), str(example.DRIFTING)))
    git.Repo(made.repo).git.commit("-qam", "retrained on March data")
    lifecycle.move(ctx, name, "plan", note="retrained")
    round_the_loop(ctx, name)
    (drifting,) = monitoring.check(ctx, name)
    assert drifting.check.health == "critical" and drifting.moved_to_plan
    model = queries.model(ctx, name)
    assert (model.stage, model.version, model.production_version) == (Stage.PLAN, 2, 2)
    (alert,) = monitoring.alerts(ctx, name)
    assert alert.metric == "model_drift_score"
    deploys.rollback(ctx, name)
    (back,) = monitoring.check(ctx, name)
    assert back.check.health == "ok" and queries.model(ctx, name).production_version == 1
    assert str(example.CALM) in get(port, "/metrics")[1]
