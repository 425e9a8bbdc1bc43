"""Time travel, webhooks, approvals and clean-up from the `mlops` command, as a real process,
on both backends."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from mlops_tui.store import schema
from tests.cli.test_cli import fails, ok, people, run
from tests.conftest import interruptible
from tests.receiver import Receiver


def test_status_at_equals_what_status_showed_then(db_url: str) -> None:
    ok(db_url, "init")
    seen: list[tuple[str, str, str]] = []  # (moment, status --json, status churn --json)

    def record() -> None:
        table = ok(db_url, "status", "--json")
        one = ok(db_url, "status", "churn", "--json") if "churn" in table else ""
        seen.append((datetime.now(UTC).isoformat(), table, one))

    people(db_url, "alice", "bob")
    before = datetime.now(UTC) - timedelta(seconds=1)
    ok(db_url, "model", "add", "churn", "--owner", "alice")
    record()
    ok(db_url, "model", "add", "fraud", "--owner", "bob")
    record()
    ok(db_url, "move", "churn", "build")
    record()
    ok(db_url, "record", "build", "churn", "--commit", "a" * 40, "--image", "reg/churn:1")
    record()
    people(db_url, "carol")
    record()
    ok(db_url, "owner", "set", "churn", "carol", "--role", "backup")
    record()
    ok(db_url, "move", "churn", "test")
    record()
    ok(db_url, "user", "add", "dave", "--role", "member")
    record()
    ok(db_url, "owner", "set", "fraud", "dave")
    record()
    ok(db_url, "user", "deactivate", "dave")  # fraud is orphaned from now on
    record()
    assert json.loads(seen[-1][1])[1]["orphaned"] is True
    assert json.loads(seen[-2][1])[1]["orphaned"] is False
    for moment, table, one in seen:
        assert ok(db_url, "status", "--at", moment, "--json") == table
        if one:
            assert ok(db_url, "status", "churn", "--at", moment, "--json") == one
    # The text table is the same as the JSON: a line per model, with the stage then.
    text = run(db_url, "status", "--at", seen[2][0])
    assert "as it was at" in text.stderr
    assert [line.split()[:3] for line in text.stdout.splitlines()[1:]] == [
        ["churn", "build", "alice"],
        ["fraud", "plan", "bob"],
    ]
    # Before anything existed.
    at = before.isoformat()
    err = fails(db_url, "status", "churn", "--at", at, code=2)
    assert err.startswith("mlops: churn did not exist yet at ") and "created it at" in err
    empty = run(db_url, "status", "--at", at)
    assert empty.returncode == 0 and empty.stdout == ""
    assert "no models existed yet" in empty.stderr
    assert "cannot read the date" in fails(db_url, "status", "--at", "last tuesday", code=2)

    # history --between: the changes in a window, and only those.
    out = ok(db_url, "history", "churn", "--between", seen[1][0], seen[3][0], "--json")
    assert [e["kind"] for e in json.loads(out)] == [
        "build.finished",
        "build.recorded",
        "stage.moved",
    ]
    assert "must come after" in fails(db_url, "history", "--between", seen[3][0], seen[1][0])
    assert "not both" in fails(db_url, "history", "--since", "1d", "--between", "2d", "1d")


@pytest.fixture
def receiver() -> Receiver:
    r = Receiver(secret="cli-secret").start()
    yield r
    r.stop()


def test_webhooks_from_the_cli_survive_a_receiver_outage(db_url: str, receiver) -> None:
    env = {"HOOK_SECRET": "cli-secret"}
    ok(db_url, "init")
    people(db_url, "alice")
    ok(db_url, "model", "add", "churn", "--owner", "alice")
    out = ok(
        db_url, "webhook", "add", receiver.url, "--events", "stage", "--secret-env", "HOOK_SECRET"
    )
    assert out == f"webhook #1: {receiver.url} (stage, signed with $HOOK_SECRET)\n"
    assert "test delivered (HTTP 204" in ok(db_url, "webhook", "test", "1", **env)

    # A writing command delivers at once, within its short budget.
    ok(db_url, "move", "churn", "build", **env)
    assert receiver.kinds() == ["webhook.test", "stage.moved"]

    receiver.stop()
    started = time.monotonic()
    ok(db_url, "move", "churn", "plan", "--note", "rework", **env)  # never fails for a webhook
    assert time.monotonic() - started < 10
    ok(db_url, "move", "churn", "build", **env)
    listing = ok(db_url, "webhook", "list")
    assert listing.splitlines()[1].split()[0] == "#1" and listing.splitlines()[1].split()[4] == "2"
    receiver.start()
    deliver = run(db_url, "webhook", "deliver", "--retry-now", **env)
    assert deliver.returncode == 0 and "2 delivered, 0 failed, 0 pending" in deliver.stderr
    assert receiver.kinds()[2:] == ["stage.moved", "stage.moved"]
    assert [b["body"]["data"]["to"] for b in receiver.received[1:]] == ["build", "plan", "build"]
    assert receiver.bad_signatures == 0

    log = ok(db_url, "webhook", "log", "1", "--json")
    results = [(a["event"], a["ok"]) for a in reversed(json.loads(log))]
    third = results[2][0]
    assert [r for r in results if r[0] == third] == [(third, False), (third, True)]
    text = ok(db_url, "webhook", "log")
    assert "failed" in text and "delivered" in text and "Connection refused" in text

    assert "webhook #1 removed" in ok(db_url, "webhook", "remove", "1")
    assert "no webhook #1" in fails(db_url, "webhook", "remove", "1", code=2)
    assert "invalid webhook URL" in fails(db_url, "webhook", "add", "file:///etc/passwd", code=2)
    assert "invalid webhook id" in fails(db_url, "webhook", "test", "one", code=2)


def test_approvals_from_the_cli_and_the_deploy_refusal(db_url: str) -> None:
    ok(db_url, "init")
    people(db_url, "alice")
    ok(db_url, "model", "add", "churn", "--owner", "alice")
    assert ok(db_url, "approvals", "require", "--all") == (
        "every model: 1 approval required before production\n"
    )
    ok(db_url, "move", "churn", "build")
    ok(db_url, "record", "build", "churn", "--commit", "a" * 40, "--image", "reg/churn:1")
    ok(db_url, "move", "churn", "deploy", "--force", "--note", "tests ran in CI")
    pending = json.loads(ok(db_url, "approvals", "list", "--json"))["pending"]
    assert [(p["model"], p["version"], p["requested_by"]) for p in pending] == [
        ("churn", 1, "tester")
    ]
    err = fails(db_url, "deploy", "churn", code=2, MLOPS_USER="carol")
    assert err.startswith("mlops: cannot deploy: churn v1 needs 1 approval before production")
    assert "someone other than tester, who requested it, must approve it" in err
    assert err.endswith("; `mlops approve churn --version 1`")
    assert "someone else must approve" in fails(db_url, "approve", "churn", "--version", "1")
    assert ok(db_url, "approve", "churn", "--version", "1", MLOPS_USER="alice") == (
        "churn v1: approved (ready for production)\n"
    )
    assert ok(
        db_url, "reject", "churn", "--version", "1", "--note", "drift is red", MLOPS_USER="bob"
    ) == ("churn v1: rejected: drift is red\n")
    err = fails(db_url, "deploy", "churn", code=2)
    assert err == "mlops: cannot deploy: churn v1 was rejected by bob (drift is red)"
    history = json.loads(ok(db_url, "history", "churn", "--json", "-n", "4"))
    assert [(e["kind"], e["actor"]) for e in history] == [
        ("approval.rejected", "bob"),
        ("approval.approved", "alice"),
        ("permission.denied", "tester"),  # the requester tried to approve
        ("approval.requested", "tester"),
    ]
    assert "a rejection needs a note saying why; add --note TEXT" in fails(
        db_url, "reject", "churn", "--version", "1", "--note", " "
    )
    assert "name one model, or use --all" in fails(db_url, "approvals", "require")
    assert "approval rule removed" in ok(db_url, "approvals", "off", "--all")


def test_gc_dry_run_from_the_cli(db_url: str, docker_client) -> None:
    ok(db_url, "init")
    result = run(db_url, "gc", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would remove 0 image tags and 0 containers" in result.stderr
    assert "Docker engine" in fails(
        db_url, "gc", code=6, DOCKER_HOST="unix:///nonexistent/docker.sock"
    )


def test_the_watching_relay_sends_what_others_write(db_url: str, receiver) -> None:
    import os
    import signal
    import subprocess

    from tests.cli.test_cli import MLOPS

    env = {**os.environ, "MLOPS_DB": db_url, "HOOK_SECRET": "cli-secret"}
    ok(db_url, "init")
    ok(db_url, "webhook", "add", receiver.url, "--secret-env", "HOOK_SECRET")
    relay = interruptible(
        [*MLOPS, "webhook", "deliver", "--watch", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A change made by a program that never delivers (a script on the services)
        from mlops_tui.services import lifecycle
        from mlops_tui.services.context import Context
        from mlops_tui.store import open_store

        with open_store(db_url) as store:
            lifecycle.add_model(Context(store, "script"), "churn", owner="script")
            # Stop the relay once the delivery is on its record, not as soon as the receiver
            # has the POST: until the relay has the answer, the event is rightly still
            # pending (it would go again), and must not be counted as delivered.
            deadline = time.monotonic() + 20
            while (
                not store.rows(schema.DELIVERIES, status="delivered", order="event")
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            assert [
                d.kind for d in store.rows(schema.DELIVERIES, status="delivered", order="event")
            ] == ["model.created"]
        assert receiver.kinds() == ["model.created"]
    finally:
        relay.send_signal(signal.SIGINT)
        out, err = relay.communicate(timeout=20)
    assert relay.returncode == 0, err
    assert "model.created  HTTP 204" in out
    assert "1 delivered" in err
