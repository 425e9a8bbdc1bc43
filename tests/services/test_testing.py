"""Test runs: the model's own test command in a clean checkout of the version's commit or in
its image, recorded with outcome and JUnit counts, and the test → deploy gate; both backends."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from mlops_tui.domain import RunStatus
from mlops_tui.errors import InvalidInput, MoveRefused, TestsFailed
from mlops_tui.services import builds, gate, lifecycle, queries, runs, testing
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from tests.conftest import known
from tests.loop_model import serving  # noqa: F401 - a fixture


def built(ctx: Context, serving, commit: bool = True) -> str:  # noqa: F811
    if commit:
        serving.commit()
    lifecycle.add_model(ctx, serving.name, owner="alice", repo=str(serving.git.path))
    lifecycle.move(ctx, serving.name, "build")
    builds.build(ctx, serving.name)
    lifecycle.move(ctx, serving.name, "test")
    return serving.name


def test_a_passing_run_is_recorded_with_its_junit_counts_and_opens_the_gate(
    ctx: Context,
    serving,  # noqa: F811
) -> None:
    name = built(ctx, serving)
    with pytest.raises(MoveRefused, match="v1 has no test run; run `mlops test"):
        lifecycle.move(ctx, name, "deploy")
    lines: list[str] = []
    run = testing.run(ctx, name, on_line=lines.append)
    assert "running the model's tests" in lines
    assert (run.status, run.version, run.passed, run.failed, run.skipped) == ("passed", 1, 2, 0, 0)
    assert run.commit == serving.git.repo.head.commit.hexsha and run.duration >= 0
    assert "running the model's tests" in run.log_tail
    kinds = [e.kind for e in queries.history(ctx, model=name, limit=2)]
    assert kinds == ["test.finished", "test.started"]
    assert lifecycle.move(ctx, name, "deploy").event.data["move"] == "forward"


def test_a_failing_run_closes_the_gate_and_force_with_a_note_is_recorded(
    ctx: Context,
    serving,  # noqa: F811
    monkeypatch,
) -> None:
    name = built(ctx, serving)
    testing.run(ctx, name)
    monkeypatch.setenv("FAIL", "3")
    monkeypatch.setenv(
        "EXTRA", '<testcase name="c"><failure/></testcase><testcase name="d"><skipped/></testcase>'
    )
    with pytest.raises(TestsFailed, match=r"exited with 3 \(2 passed, 1 failed, 1 skipped\)"):
        testing.run(ctx, name)
    latest = testing.test_runs(ctx, name)[0]
    assert (latest.status, latest.failed, latest.skipped) == ("failed", 1, 1)
    with pytest.raises(MoveRefused, match=r"latest test run of v1 \(#\d+\) failed"):
        lifecycle.move(ctx, name, "deploy")
    with pytest.raises(MoveRefused, match=r"overriding the test gate .* needs a note"):
        lifecycle.move(ctx, name, "deploy", force=True)
    forced = lifecycle.move(ctx, name, "deploy", force=True, note="flaky test, fixed later")
    assert forced.event.data["move"] == "forced" and "failed" in forced.event.data["gate"]


def test_the_checkout_is_the_commit_not_the_working_copy(ctx: Context, serving) -> None:  # noqa: F811
    name = built(ctx, serving)
    serving.git.write("tests.sh", "exit 9\n")  # uncommitted: never run
    assert testing.run(ctx, name).status == RunStatus.PASSED


def test_tests_inside_the_image_run_without_a_network(ctx: Context, serving) -> None:  # noqa: F811
    serving.commit()
    text = serving.git.path.joinpath("mlops.toml").read_text()
    text = text.replace('command = ["sh", "tests.sh"]', 'command = ["sh", "-c", "ls /www"]')
    text = text.replace('junit = "report.xml"', "in_image = true")
    serving.git.commit("in image", **{"mlops.toml": text})
    name = built(ctx, serving, commit=False)
    lines: list[str] = []
    run = testing.run(ctx, name, on_line=lines.append)
    assert run.status == "passed" and run.in_image and {"health", "metrics"} <= set(lines)


def test_no_test_command_is_one_clear_error_and_nothing_recorded(ctx: Context, serving) -> None:  # noqa: F811
    name = built(ctx, serving)
    serving.git.commit("no tests", **{"mlops.toml": "[deploy]\nport = 1234\n"})
    builds.build(ctx, name)
    with pytest.raises(InvalidInput, match=r"has no \[test\]\.command"):
        testing.run(ctx, name)
    assert testing.test_runs(ctx, name) == []


def test_external_ci_reports_test_runs(ctx: Context, tmp_path) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "fraud", owner="bob")
    builds.record(ctx, "fraud", commit="a" * 40, image="reg/fraud:1")
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuites><testsuite><testcase name="x"/><testcase name="y"><error/></testcase>'
        "</testsuite></testsuites>"
    )
    run = testing.record(
        ctx, "fraud", version=1, passed=False, url="https://ci/1", junit=report.read_bytes()
    )
    assert (run.status, run.passed, run.failed, run.url) == ("failed", 1, 1, "https://ci/1")
    assert testing.record(ctx, "fraud", version=1, passed=True).status == "passed"
    with pytest.raises(InvalidInput, match="not JUnit XML"):
        testing.record(ctx, "fraud", version=1, passed=True, junit=b"<html/>")
    with pytest.raises(InvalidInput, match="no version v7"):
        testing.record(ctx, "fraud", version=7, passed=True)


def test_a_run_whose_process_died_shows_as_interrupted(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "fraud", owner="bob")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with gate.acting(ctx, "test", "fraud"):
        runs.start(
            ctx,
            runs.TEST_RUNS,
            {
                "model": "fraud",
                "version": 1,
                "in_image": False,
                "command": ["pytest"],
                "host": socket.gethostname(),
                "pid": dead.pid,
            },
            ctx.event("test.started", "fraud"),
        )
    head = queries.head(ctx)
    (shown,) = testing.test_runs(ctx, "fraud")
    assert shown.status == RunStatus.INTERRUPTED and "died" in shown.error
    assert queries.head(ctx) == head, "listing never writes"
    lifecycle.move(ctx, "fraud", "build")
    builds.record(ctx, "fraud", commit="a" * 40, image="r/fraud:1")
    testing.record(ctx, "fraud", version=1, passed=True)  # the next test run records it
    interrupted, passed = sorted(
        ctx.store.rows(schema.TEST_RUNS, model="fraud", limit=20), key=lambda r: r.id
    )
    assert (interrupted.status, passed.status) == (RunStatus.INTERRUPTED, RunStatus.PASSED)
