"""Deploys and rollbacks on a real Docker engine: the version's image serves on 127.0.0.1 with
the host network; a failed health check puts the previous container back (checked over HTTP);
the deploy → monitor gate; custom targets; an unreachable engine. Both backends."""

from __future__ import annotations

import pytest

from mlops_tui.domain import Stage
from mlops_tui.errors import DeployFailed, EngineError, InvalidInput, MoveRefused
from mlops_tui.services import builds, deploys, gate, lifecycle, queries, runs, testing
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from tests.conftest import known
from tests.loop_model import get, serving, toml  # noqa: F401 - serving is a fixture


def to_deploy(ctx: Context, serving, **commit) -> str:  # noqa: F811
    """Commit, build, test and bring the model to stage deploy: a new version each call."""
    name = serving.name
    serving.commit(**commit)
    if not any(m.name == name for m in ctx.store.list_models()):
        lifecycle.add_model(ctx, name, owner="alice", repo=str(serving.git.path))
    if ctx.store.get_model(name).stage == Stage.MONITOR:
        lifecycle.move(ctx, name, "plan", note="next version")
    lifecycle.move(ctx, name, "build")
    builds.build(ctx, name)
    lifecycle.move(ctx, name, "test")
    testing.run(ctx, name)
    lifecycle.move(ctx, name, "deploy")
    return name


def serving_version(docker_client, name: str) -> str:
    container = docker_client.containers.get(f"mlops-{name}")
    assert container.status == "running"
    return container.labels["io.mlops-tui.version"]


def test_deploy_serves_the_version_and_sets_production(
    ctx: Context,
    serving,  # noqa: F811
    docker_client,
) -> None:
    name = to_deploy(ctx, serving)
    with pytest.raises(MoveRefused, match="no deployment of v1 succeeded"):
        lifecycle.move(ctx, name, "monitor")
    lines: list[str] = []
    result = deploys.deploy(ctx, name, on_line=lines.append)
    d = result.deployment
    assert (d.status, d.version, d.kind, d.target, d.previous_version) == (
        "succeeded",
        1,
        "deploy",
        "container",
        None,
    )
    assert result.model.production_version == 1 and result.warnings == []
    assert get(serving.port, "/health") == (200, "ok\n")
    container = docker_client.containers.get(f"mlops-{name}")
    assert container.labels["io.mlops-tui.version"] == "1"
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    # It comes back with the engine after a reboot, until someone stops it.
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert any("is serving v1" in line for line in lines)
    head = serving.git.repo.head.commit.hexsha
    assert serving.git.repo.tags[f"{name}#prod#1"].commit.hexsha == head
    kinds = [e.kind for e in queries.history(ctx, model=name, limit=3)]
    assert kinds == ["git.tag", "deploy.finished", "deploy.started"]
    assert lifecycle.move(ctx, name, "monitor").event.data["move"] == "forward"


def test_a_moved_tag_does_not_change_what_a_version_deploys(
    ctx: Context,
    serving,  # noqa: F811
    docker_client,
    base_image,
) -> None:
    """Anyone sharing the engine can retag churn:v1; the version is the image it built."""
    name = to_deploy(ctx, serving)
    (version,) = ctx.store.rows(schema.VERSIONS, model=name, order="number DESC")
    docker_client.images.get(base_image).tag(name, "v1")  # no CMD: it would not even start
    deploys.deploy(ctx, name)
    assert get(serving.port, "/health") == (200, "ok\n")
    assert docker_client.containers.get(f"mlops-{name}").image.id == version.image_id


def test_a_failed_health_check_puts_the_previous_version_back(
    ctx: Context,
    serving,  # noqa: F811
    docker_client,
) -> None:
    name = to_deploy(ctx, serving)
    deploys.deploy(ctx, name)
    lifecycle.move(ctx, name, "monitor")
    to_deploy(ctx, serving, health=None)  # v2 answers 404 on /health
    with pytest.raises(DeployFailed, match=r"HTTP 404; v1 keeps serving \(deployment #\d+\)"):
        deploys.deploy(ctx, name)
    failed = deploys.deployments(ctx, name)[0]
    assert (failed.version, failed.status, failed.rolled_back) == (2, "failed", True)
    assert "putting mlops-" in failed.log_tail
    assert get(serving.port, "/health") == (200, "ok\n")  # v1, put back
    assert serving_version(docker_client, name) == "1"
    assert docker_client.containers.list(all=True, filters={"name": f"mlops-{name}-next"}) == []
    model = queries.model(ctx, name)
    assert (model.production_version, model.stage) == (1, Stage.DEPLOY)
    with pytest.raises(MoveRefused, match="no deployment of v2 succeeded"):
        lifecycle.move(ctx, name, "monitor")
    forced = lifecycle.move(ctx, name, "monitor", force=True, note="v1 serves; fix v2 later")
    assert forced.event.data["move"] == "forced"


def test_a_container_that_exits_fails_at_once_and_rolls_back(
    ctx: Context,
    serving,  # noqa: F811
    docker_client,
) -> None:
    name = to_deploy(ctx, serving)
    deploys.deploy(ctx, name)
    lifecycle.move(ctx, name, "monitor")
    crash = f'FROM {serving.base}\nCMD ["sh", "-c", "echo model file missing; exit 3"]\n'
    to_deploy(ctx, serving, Dockerfile=crash)
    with pytest.raises(DeployFailed, match="the container exited with code 3; v1 keeps serving"):
        deploys.deploy(ctx, name)
    assert "│ model file missing" in deploys.deployments(ctx, name)[0].log_tail
    assert get(serving.port, "/health") == (200, "ok\n")
    assert serving_version(docker_client, name) == "1"


def test_rollback_returns_to_an_earlier_version(
    ctx: Context,
    serving,  # noqa: F811
    docker_client,
) -> None:
    name = to_deploy(ctx, serving)
    deploys.deploy(ctx, name)
    with pytest.raises(InvalidInput, match="no earlier successful deployment"):
        deploys.rollback(ctx, name)
    lifecycle.move(ctx, name, "monitor")
    to_deploy(ctx, serving, health="v2\n")
    deploys.deploy(ctx, name)
    assert get(serving.port, "/health") == (200, "v2\n")
    assert serving.git.repo.tags[f"{name}#prod#2"]
    with pytest.raises(InvalidInput, match="v2 is already the production version"):
        deploys.rollback(ctx, name, to=2)
    with pytest.raises(InvalidInput, match="v5 was never deployed successfully"):
        deploys.rollback(ctx, name, to=5)
    back = deploys.rollback(ctx, name)
    assert (back.deployment.kind, back.deployment.version, back.model.production_version) == (
        "rollback",
        1,
        1,
    )
    assert back.deployment.previous_version == 2
    assert get(serving.port, "/health") == (200, "ok\n")
    assert serving_version(docker_client, name) == "1"
    again = deploys.rollback(ctx, name, to=2)
    assert again.model.production_version == 2 and get(serving.port, "/health") == (200, "v2\n")


def test_deploying_needs_stage_deploy(ctx: Context, serving) -> None:  # noqa: F811
    serving.commit()
    lifecycle.add_model(ctx, serving.name, owner="alice", repo=str(serving.git.path))
    lifecycle.move(ctx, serving.name, "build")
    builds.build(ctx, serving.name)
    with pytest.raises(MoveRefused, match="is in build: deploying needs it in stage deploy"):
        deploys.deploy(ctx, serving.name)
    assert deploys.deployments(ctx, serving.name) == []


def test_a_custom_target_runs_its_command_and_records_the_outcome(
    ctx: Context,
    serving,  # noqa: F811
    tmp_path,
    monkeypatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    command = 'command = ["touch", "{model}-{version}", "{image}.img"]\n'
    name = to_deploy(ctx, serving, toml_text=toml(serving.port, extra=command))
    result = deploys.deploy(ctx, name)
    assert (result.deployment.target, result.deployment.status) == ("command", "succeeded")
    assert (tmp_path / f"{name}-1").exists() and (tmp_path / f"{name}:v1.img").exists()
    assert result.model.production_version == 1
    lifecycle.move(ctx, name, "monitor")
    failing = 'command = ["ls", "/no/such/{model}"]\n'
    to_deploy(ctx, serving, toml_text=toml(serving.port, extra=failing), message="broken")
    with pytest.raises(DeployFailed, match="ls exited with 2"):
        deploys.deploy(ctx, name)
    failed = deploys.deployments(ctx, name)[0]
    assert (failed.status, failed.rolled_back) == ("failed", False)
    assert f"/no/such/{name}" in failed.log_tail
    assert queries.model(ctx, name).production_version == 1


def test_an_unreachable_engine_is_one_error_and_records_nothing(
    ctx: Context,
    serving,  # noqa: F811
    monkeypatch,
) -> None:
    name = to_deploy(ctx, serving)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(EngineError, match="cannot reach the Docker engine") as info:
        deploys.deploy(ctx, name)
    assert info.value.exit_code == 6
    assert deploys.deployments(ctx, name) == []
    assert queries.model(ctx, name).production_version is None


def test_external_deploys_are_recorded(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "fraud", owner="bob")
    builds.record(ctx, "fraud", commit="a" * 40, image="reg/fraud:1")
    failed = deploys.record(ctx, "fraud", version=1, failed=True, url="https://argo/1")
    assert (failed.deployment.status, failed.model.production_version) == ("failed", None)
    ok = deploys.record(ctx, "fraud", version=1)
    assert (ok.deployment.target, ok.model.production_version) == ("external", 1)


def test_a_deployment_whose_process_died_shows_as_interrupted(ctx: Context) -> None:
    import socket
    import subprocess
    import sys

    known(ctx, "bob")
    lifecycle.add_model(ctx, "fraud", owner="bob")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with gate.acting(ctx, "deploy", "fraud"):
        runs.start(
            ctx,
            runs.DEPLOYMENTS,
            {
                "model": "fraud",
                "version": 1,
                "kind": "deploy",
                "target": "container",
                "image": "fraud:v1",
                "host": socket.gethostname(),
                "pid": dead.pid,
            },
            ctx.event("deploy.started", "fraud"),
        )
    head = queries.head(ctx)
    (shown,) = deploys.deployments(ctx, "fraud")
    assert shown.status == "interrupted" and "died" in shown.error
    assert queries.model(ctx, "fraud").production_version is None
    assert queries.head(ctx) == head, "listing never writes"
    assert ctx.store.rows(schema.DEPLOYMENTS, model="fraud", limit=20)[0].status == "running"
