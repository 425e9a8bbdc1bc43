"""`mlops test`, `deploy`, `rollback`, `check`, `alerts`, `ack` and `record test|deploy` as a
person runs them: a real process, a real engine and repository, on both backends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

from tests.cli.test_cli import MLOPS, fails, ok, people
from tests.conftest import interruptible
from tests.loop_model import get, serving  # noqa: F401 - serving is a fixture


def to_test(db: str, serving) -> str:  # noqa: F811
    serving.commit()
    name = serving.name
    people(db, "alice")
    ok(db, "model", "add", name, "--owner", "alice", "--repo", str(serving.git.path))
    ok(db, "move", name, "build")
    ok(db, "build", name)
    ok(db, "move", name, "test")
    return name


def test_test_deploy_check_from_the_command_line(db_url: str, serving) -> None:  # noqa: F811
    name = to_test(db_url, serving)
    refused = fails(db_url, "move", name, "deploy", code=2)
    assert refused == (
        f"mlops: {name} cannot go to deploy: v1 has no test run; run `mlops test {name}`, "
        "or `mlops record test` from CI; or override the gate with --force --note TEXT"
    )
    out = ok(db_url, "test", name)
    assert "│ running the model's tests" in out
    assert f"{name} v1: tests passed (2 passed, 0 failed, 0 skipped)" in out
    assert ok(db_url, "tests", name).splitlines()[1].split()[:4] == ["#1", "v1", "passed", "2/0/0"]
    ok(db_url, "move", name, "deploy")
    out = ok(db_url, "deploy", name)
    assert f"deployed {name} v1 to mlops-{name}" in out and "│ " in out
    assert get(serving.port, "/health") == (200, "ok\n")
    assert ok(db_url, "deployments", name).splitlines()[1].split()[:4] == [
        "#1",
        "v1",
        "deploy",
        "succeeded",
    ]
    ok(db_url, "move", name, "monitor")
    assert ok(db_url, "check", name).strip() == f"{name} v1: ok · model_drift_score=0.1"
    assert ok(db_url, "status", name).startswith(f"{name}: monitor · v1 (prod v1) · ok")
    assert "check.ran" in ok(db_url, "history", name, "-n", "3")


def test_drift_alert_ack_and_rollback(db_url: str, serving) -> None:  # noqa: F811
    name = to_test(db_url, serving)
    ok(db_url, "test", name)
    ok(db_url, "move", name, "deploy")
    ok(db_url, "deploy", name)
    ok(db_url, "move", name, "monitor")
    ok(db_url, "move", name, "plan", "--note", "retrain")
    serving.commit(drift=0.5, health="v2\n")
    ok(db_url, "move", name, "build")
    ok(db_url, "build", name)
    ok(db_url, "move", name, "test")
    ok(db_url, "test", name)
    ok(db_url, "move", name, "deploy")
    ok(db_url, "deploy", name)
    result = subprocess.run(
        [*MLOPS, "check"], env={**os.environ, "MLOPS_DB": db_url}, capture_output=True, text=True
    )
    assert result.returncode == 1  # a critical model: scripts and cron notice
    assert "critical · model_drift_score=0.5 (critical) · alert #1 opened · moved back to plan" in (
        result.stdout
    )
    lines = ok(db_url, "alerts").splitlines()
    assert lines[1].split()[:4] == ["#1", name, "model_drift_score", "open"]
    assert "alert #1 on" in ok(db_url, "ack", "1", "--note", "rolling back")
    assert fails(db_url, "ack", "1", code=3) == "mlops: alert #1 is already acknowledged by tester"
    assert fails(db_url, "ack", "42", code=2).startswith("mlops: no alert #42")
    out = ok(db_url, "rollback", name)
    assert f"rolled {name} back to v1 on mlops-{name}" in out
    assert get(serving.port, "/health") == (200, "ok\n")
    assert ok(db_url, "status", name).startswith(f"{name}: plan · v2 (prod v1)")


def test_external_ci_and_bad_input(db_url: str, tmp_path) -> None:
    people(db_url, "bob")
    ok(db_url, "model", "add", "fraud", "--owner", "bob")
    ok(db_url, "move", "fraud", "build")
    ok(db_url, "record", "build", "fraud", "--commit", "a" * 40, "--image", "reg/fraud:1")
    ok(db_url, "move", "fraud", "test")
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuite><testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite>'
    )
    out = ok(
        db_url, "record", "test", "fraud", "--version", "1", "--passed", "--junit", str(report)
    )
    assert out.strip() == "recorded test run #1 of fraud v1: passed"
    assert "1/0/1" in ok(db_url, "tests", "fraud")
    ok(db_url, "move", "fraud", "deploy")
    fails(db_url, "move", "fraud", "monitor", code=2)
    out = ok(db_url, "record", "deploy", "fraud", "--version", "1", "--url", "https://argo/1")
    assert out.strip() == "recorded deployment #1 of fraud v1: succeeded"
    ok(db_url, "move", "fraud", "monitor")
    assert fails(db_url, "record", "test", "fraud", "--version", "1", code=2) == (
        "mlops: say how it went: --passed or --failed"
    )
    assert "no version v9" in fails(db_url, "record", "test", "fraud", "--version", "9", "--failed")
    assert fails(db_url, "check", "nope-model", code=2).startswith("mlops: no model named")
    assert fails(db_url, "check", "--interval", "soon", code=2).startswith("mlops: --interval")
    assert fails(db_url, "deploy", "fraud", code=2) == (
        "mlops: fraud is in monitor: deploying needs it in stage deploy, so move it there "
        "first; or, to go back to an earlier version, `mlops rollback fraud`"
    )


def test_an_unreachable_engine_is_exit_6_and_nothing_succeeds(db_url: str, serving) -> None:  # noqa: F811
    name = to_test(db_url, serving)
    ok(db_url, "test", name)
    ok(db_url, "move", name, "deploy")
    err = fails(db_url, "deploy", name, code=6, DOCKER_HOST="unix:///nonexistent.sock")
    assert err == (
        "mlops: cannot reach the Docker engine: is it running? (start dockerd, or set DOCKER_HOST)"
    )
    assert (
        "no deployments yet"
        in subprocess.run(
            [*MLOPS, "deployments", name],
            env={**os.environ, "MLOPS_DB": db_url},
            capture_output=True,
            text=True,
        ).stderr
    )
    assert ok(db_url, "status", name).startswith(f"{name}: deploy · v1 ·")


def test_watch_keeps_going_through_outages_and_stops_on_ctrl_c(
    tmp_path,
    serving,  # noqa: F811
    docker_client,
) -> None:
    db = str(tmp_path / "mlops.db")
    name = to_test(db, serving)
    ok(db, "test", name)
    ok(db, "move", name, "deploy")
    ok(db, "deploy", name)
    watch = interruptible(
        [*MLOPS, "check", "--watch", "--interval", "1s"],
        env={**os.environ, "MLOPS_DB": db},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2.5)
        docker_client.containers.get(f"mlops-{name}").stop(timeout=1)  # the model goes down
        time.sleep(2.5)
        shutil.move(db, db + ".away")  # the database goes away…
        os.mkdir(db)  # …and its path cannot be opened
        time.sleep(2.5)
        os.rmdir(db)
        shutil.move(db + ".away", db)
        docker_client.containers.get(f"mlops-{name}").start()
        time.sleep(3.5)
    finally:
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=20)
    assert watch.returncode == 0, err
    assert "stopped watching" in err and "Traceback" not in err
    lines = out.splitlines()
    assert any(f"{name} v1: ok" in line for line in lines)
    assert any(f"{name} v1: critical" in line and "down:" in line for line in lines)
    assert any("check failed: cannot use the database" in line for line in lines)
    last = [line for line in lines if name in line][-1]
    assert f"{name} v1: ok" in last, lines  # recovered
