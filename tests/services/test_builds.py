"""Building versions with a real Docker engine from real Git repositories, on both backends."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import threading
import time
import uuid

import pytest

from mlops_tui.domain import BuildStatus
from mlops_tui.errors import (
    BuildCancelled,
    BuildFailed,
    ConfigError,
    EngineError,
    InvalidInput,
    MoveRefused,
)
from mlops_tui.services import builds, gate, lifecycle, queries, runs
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from tests.conftest import known

SCRATCH = "FROM scratch\nCOPY model.txt /model.txt\n"


@pytest.fixture
def model(ctx: Context, gitrepo, docker_client) -> str:
    gitrepo.commit("first", Dockerfile=SCRATCH, **{"model.txt": "weights 1\n"})
    lifecycle.add_model(ctx, "churn", owner="alice", repo=str(gitrepo.path))
    lifecycle.move(ctx, "churn", "build")
    return "churn"


def file_in_image(client, image: str, path: str) -> str:
    container = client.containers.create(image, command=["/none"])
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            return tar.extractfile(os.path.basename(path)).read().decode()
    finally:
        container.remove()


def test_build_records_a_version_with_its_commit_and_image(ctx, model, gitrepo, docker_client):
    lines: list[str] = []
    result = builds.build(ctx, model, on_line=lines.append)
    head = gitrepo.repo.head.commit.hexsha
    b = result.build
    assert (b.status, b.version, b.commit, b.image) == ("succeeded", 1, head, "churn:v1")
    assert any("Successfully tagged churn:v1" in line for line in lines)
    assert result.model.version == 1
    (version,) = ctx.store.rows(schema.VERSIONS, model=model, order="number DESC")
    assert (version.commit, version.image, version.created_by) == (head, "churn:v1", "alice")
    labels = docker_client.images.get("churn:v1").labels
    assert labels["org.opencontainers.image.revision"] == head
    assert labels["org.opencontainers.image.source"] == str(gitrepo.path)
    assert labels["org.opencontainers.image.created"].startswith("20")
    assert (labels["io.mlops-tui.model"], labels["io.mlops-tui.version"]) == ("churn", "1")
    assert docker_client.images.get("churn:v1").id == version.image_id
    kinds = [e.kind for e in queries.history(ctx, model=model, limit=2)]
    assert kinds == ["build.finished", "build.started"]
    lifecycle.move(ctx, model, "test")  # the gate is open


def test_same_inputs_reuse_the_version_new_commit_makes_the_next(ctx, model, gitrepo):
    first = builds.build(ctx, model).build
    again = builds.build(ctx, model, ref="main").build
    assert (again.version, again.id) == (first.version, first.id + 1)
    assert len(ctx.store.rows(schema.VERSIONS, model=model, order="number DESC")) == 1
    gitrepo.commit("retrain", **{"model.txt": "weights 2\n"})
    assert builds.build(ctx, model).build.version == 2
    gitrepo.commit("new data", **{"mlops.toml": '[data]\nref = "s3://b/2026-12"\n'})
    third = builds.build(ctx, model).build
    assert third.version == 3
    assert (
        ctx.store.rows(schema.VERSIONS, model=model, order="number DESC")[0].data_ref
        == "s3://b/2026-12"
    )


def test_uncommitted_changes_are_warned_about_and_not_built(ctx, model, gitrepo, docker_client):
    gitrepo.write("model.txt", "weights edited by hand\n")
    result = builds.build(ctx, model)
    assert any("uncommitted changes are not in the image: model.txt" in w for w in result.warnings)
    assert file_in_image(docker_client, "churn:v1", "/model.txt") == "weights 1\n"


def test_a_failing_step_is_recorded_and_keeps_the_gate_closed(ctx, model, gitrepo, base_image):
    gitrepo.commit("broken", Dockerfile=f"FROM {base_image}\nRUN echo training && false\n")
    with pytest.raises(BuildFailed, match="returned a non-zero code: 1") as info:
        builds.build(ctx, model)
    assert "step 2/" in info.value.message
    (failed,) = builds.builds(ctx, model)
    assert failed.status == BuildStatus.FAILED and "non-zero" in failed.error
    assert "training" in failed.log_tail
    assert (
        ctx.store.rows(schema.VERSIONS, model=model, order="number DESC") == []
        and queries.model(ctx, model).version is None
    )
    with pytest.raises(MoveRefused, match="failed"):
        lifecycle.move(ctx, model, "test")


def test_cancelling_a_build_records_it_as_cancelled(ctx, model, gitrepo, base_image):
    gitrepo.commit("slow", Dockerfile=f"FROM {base_image}\nRUN echo {uuid.uuid4()} && sleep 30\n")
    cancel = threading.Event()

    def cancel_once_running(line: str) -> None:
        if "Running in" in line:  # the silent `sleep` step has started
            threading.Timer(0.5, cancel.set).start()

    start = time.monotonic()
    with pytest.raises(BuildCancelled):
        builds.build(ctx, model, on_line=cancel_once_running, cancel=cancel)
    assert time.monotonic() - start < 15, "cancel must not wait for the step to finish"
    assert builds.builds(ctx, model)[0].status == BuildStatus.CANCELLED


def test_problems_found_before_building_record_nothing(ctx, model, gitrepo, monkeypatch):
    gitrepo.commit("typo", **{"mlops.toml": '[build]\ndockerfil = "x"\n'})
    with pytest.raises(ConfigError, match=r"mlops.toml at \w+: \[build\]\.dockerfil: unknown"):
        builds.build(ctx, model)
    gitrepo.commit("no dockerfile", **{"mlops.toml": '[build]\ndockerfile = "ml/Dockerfile"\n'})
    with pytest.raises(InvalidInput, match="no ml/Dockerfile"):
        builds.build(ctx, model)
    for ref in ("--upload-pack=evil", "main..other", "nope"):
        with pytest.raises(InvalidInput if ref != "nope" else Exception, match=ref.split(".")[0]):
            builds.build(ctx, model, ref=ref)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    gitrepo.commit("fixed", **{"mlops.toml": ""})
    with pytest.raises(EngineError, match="cannot reach the Docker engine"):
        builds.build(ctx, model)
    assert builds.builds(ctx, model) == []


def test_a_build_whose_process_died_shows_as_interrupted(ctx, model):
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with gate.acting(ctx, "build", model):
        runs.start(
            ctx,
            runs.BUILDS,
            {
                "model": model,
                "version": 1,
                "inputs": "x",
                "commit_sha": "a" * 40,
                "ref": "HEAD",
                "host": socket.gethostname(),
                "pid": dead.pid,
            },
            ctx.event("build.started", model),
        )
    head = queries.head(ctx)
    (shown,) = builds.builds(ctx, model)
    assert shown.status == BuildStatus.INTERRUPTED and "died" in shown.error
    assert queries.head(ctx) == head, "listing never writes"
    builds.record(ctx, model, commit="c" * 40, image="r/x:2")  # the next build records it
    statuses = [b.status for b in ctx.store.rows(schema.BUILDS, model=model)]
    assert statuses == [BuildStatus.SUCCEEDED, BuildStatus.INTERRUPTED]


def test_external_ci_can_report_builds(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "fraud", owner="bob")
    failed = builds.record(
        ctx,
        "fraud",
        commit="a" * 40,
        image="reg/fraud:1",
        failed=True,
        url="https://ci.example.com/1",
    )
    ok = builds.record(ctx, "fraud", commit="b" * 40, image="reg/fraud:2")
    assert (failed.build.status, ok.build.status) == ("failed", "succeeded")
    assert (failed.build.version, ok.build.version, ok.model.version) == (1, 2, 2)
    assert failed.build.url == "https://ci.example.com/1"
    with pytest.raises(InvalidInput, match="invalid commit"):
        builds.record(ctx, "fraud", commit="main", image="x")
    with pytest.raises(InvalidInput, match="invalid URL"):
        builds.record(ctx, "fraud", commit="c" * 40, image="x", url="javascript:alert(1)")
