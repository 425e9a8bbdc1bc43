"""`mlops user`, `settings`, `handoff`, `oncall` and `audit` as a real process, on
both backends: the forms people type, their output and their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import fails, ok, run
from tests.conftest import raw_execute


@pytest.fixture
def db(db_url: str) -> str:
    ok(db_url, "init")
    ok(db_url, "user", "add", "lead", "--role", "admin", MLOPS_USER="lead")
    ok(
        db_url,
        "user",
        "add",
        "bob",
        "--role",
        "member",
        "--email",
        "bob@example.com",
        MLOPS_USER="lead",
    )
    ok(db_url, "user", "add", "carol", "--role", "member", MLOPS_USER="lead")
    ok(db_url, "user", "add", "vera", "--role", "viewer", MLOPS_USER="lead")
    for name in ("churn", "fraud", "eta"):
        ok(db_url, "model", "add", name, "--owner", "bob", MLOPS_USER="lead")
    return db_url


def test_people_roles_and_the_permission_refusal(db: str) -> None:
    users = {u["name"]: u for u in json.loads(ok(db, "user", "list", "--json"))}
    assert users["bob"]["role"] == "member" and users["bob"]["models_owned"] == 3
    assert users["bob"]["email"] == "bob@example.com"
    msg = fails(db, "move", "churn", "build", code=7, MLOPS_USER="vera")
    assert (
        msg == "mlops: vera may not move churn: viewers read only (an admin can change your role)"
    )
    assert "it needs an admin" in fails(db, "user", "add", "x", code=7, MLOPS_USER="bob")
    assert "vera is now member" in ok(db, "user", "role", "vera", "member", MLOPS_USER="lead")
    ok(db, "move", "churn", "build", MLOPS_USER="vera")
    denied = json.loads(ok(db, "history", "--json", "-n", "0"))
    assert [e["actor"] for e in denied if e["kind"] == "permission.denied"] == ["bob", "vera"]
    table = ok(db, "user", "list")
    head = ["NAME", "KIND", "ROLE", "STATUS", "OWNS", "EMAIL", "SINCE"]
    assert table.splitlines()[0].split() == head


def test_open_join_and_settings(db: str) -> None:
    ok(db, "move", "churn", "build", MLOPS_USER="newbie")
    assert "newbie joined as maintainer" in ok(db, "history", "churn", "-n", "1")
    ok(db, "settings", "set", "open_join", "false", MLOPS_USER="lead")
    assert "open_join is off" in fails(db, "move", "fraud", "build", code=7, MLOPS_USER="stranger")
    listed = json.loads(ok(db, "settings", "list", "--json"))
    assert listed["open_join"] is False and "runbook" in listed["handoff_checklist"]
    assert "open_join is true or false" in fails(
        db, "settings", "set", "open_join", "maybe", code=2, MLOPS_USER="lead"
    )


def test_a_leaver_is_orphaned_and_handed_over_from_the_cli(db: str) -> None:
    out = run(db, "user", "deactivate", "bob", MLOPS_USER="lead")
    assert out.returncode == 0 and "3 orphaned models: churn, eta, fraud" in out.stderr
    status = ok(db, "status")
    assert "bob (orphaned)" in status
    assert json.loads(ok(db, "status", "churn", "--json"))["orphaned"] is True
    assert "owner bob (orphaned)" in ok(db, "status", "churn")
    made = ok(
        db, "handoff", "--from", "bob", "--to", "carol", "--note", "bob left", MLOPS_USER="lead"
    )
    assert made.splitlines() == [
        "handoff #1: churn from bob to carol, waiting for carol",
        "handoff #2: eta from bob to carol, waiting for carol",
        "handoff #3: fraud from bob to carol, waiting for carol",
    ]
    mine = json.loads(ok(db, "handoff", "list", "--mine", "--json", MLOPS_USER="carol"))
    assert [h["model"] for h in mine] == ["churn", "eta", "fraud"]
    assert mine[0]["unticked"][0] == "runbook"
    assert ok(db, "handoff", "list", "--mine", MLOPS_USER="dave") == ""
    msg = fails(db, "handoff", "accept", "1", code=2, MLOPS_USER="carol")
    assert "not ticked: runbook, data sources, credentials rotated" in msg
    assert "only carol can accept" in fails(
        db, "handoff", "accept", "1", "--ack-all", code=7, MLOPS_USER="lead"
    )
    assert ok(db, "handoff", "accept", "1", "--ack-all", MLOPS_USER="carol") == (
        "accepted #1: you own churn now\n"
    )
    assert "declined #2 (eta): not my area" in ok(
        db, "handoff", "decline", "2", "--note", "not my area", MLOPS_USER="carol"
    )
    assert "cancelled #3" in ok(db, "handoff", "cancel", "3", MLOPS_USER="lead")
    ok(db, "handoff", "fraud", "--to", "carol", MLOPS_USER="lead")
    ok(db, "handoff", "eta", "--to", "carol", MLOPS_USER="lead")
    ok(db, "handoff", "tick", "4", "runbook", "data sources", MLOPS_USER="carol")
    both = run(db, "handoff", "accept", "--all", MLOPS_USER="carol")
    assert both.returncode == 2 and "not accepted #5 (eta)" in both.stderr
    assert "not accepted #4" in both.stderr
    assert ok(db, "handoff", "accept", "--all", "--ack-all", MLOPS_USER="carol").splitlines() == [
        "accepted #4: you own fraud now",
        "accepted #5: you own eta now",
    ]
    assert "bob (orphaned)" not in ok(db, "status")
    assert "owner: bob → carol (handoff #1 accepted)" in ok(db, "history", "churn")
    assert "give a model NAME or --from USER" in fails(
        db, "handoff", "churn", "--from", "bob", "--to", "carol", code=2
    )
    assert "say who takes over" in fails(db, "handoff", "churn", code=2)


def test_oncall_gates_a_shift_handover(db: str) -> None:
    assert ok(db, "oncall") == ""
    ok(db, "move", "churn", "build", MLOPS_USER="lead")
    ok(
        db,
        "record",
        "build",
        "churn",
        "--commit",
        "a" * 40,
        "--image",
        "r/churn:1",
        MLOPS_USER="lead",
    )
    ok(db, "move", "churn", "test", MLOPS_USER="lead")
    ok(db, "record", "test", "churn", "--version", "1", "--passed", MLOPS_USER="lead")
    ok(db, "move", "churn", "deploy", MLOPS_USER="lead")
    msg = fails(db, "record", "deploy", "churn", "--version", "1", code=7, MLOPS_USER="carol")
    assert "carol may not deploy churn: it needs the model's owner or backup" in msg
    ok(db, "record", "deploy", "churn", "--version", "1", MLOPS_USER="bob")
    ok(db, "oncall", "runbook", "churn", "https://wiki.example.com/churn", MLOPS_USER="lead")
    result = run(db, "oncall")
    assert (
        result.returncode == 8 and "1 of 1 production models need attention: churn" in result.stderr
    )
    header, row = result.stdout.splitlines()
    assert header.split()[:3] == ["MODEL", "PROD", "OWNER"]
    assert "! churn" in row and "v1 just now by bob" in row and "never checked" in row
    data = json.loads(run(db, "oncall", "--json").stdout)
    assert data[0]["runbook"] == "https://wiki.example.com/churn"
    assert data[0]["last_deploy"]["by"] == "bob" and data[0]["needs_attention"] is True
    md = run(db, "oncall", "--markdown").stdout
    assert md.startswith("| MODEL | PROD |") and "[runbook](https://wiki.example.com/churn)" in md
    assert "invalid runbook URL" in fails(db, "oncall", "runbook", "churn", "wiki", code=2)


def test_audit_verify_catches_an_edited_event(db: str, tmp_path: Path) -> None:
    out = ok(db, "audit", "verify")
    assert out.startswith("7 events, chain intact (head ")
    dump = tmp_path / "state.jsonl"
    ok(db, "export", str(dump))
    copy = str(tmp_path / "copy.db")
    ok(copy, "import", str(dump))
    assert ok(copy, "audit", "verify") == out
    if db.startswith("postgresql://"):
        raw_execute(db, "ALTER TABLE events DISABLE TRIGGER events_append_only")
    else:
        raw_execute(db, "DROP TRIGGER events_no_update")
    raw_execute(db, "UPDATE events SET actor = 'mallory' WHERE id = 5")
    msg = fails(db, "audit", "verify", code=9)
    assert msg.startswith("mlops: audit chain broken at event #5 at ")
    assert "edited" in msg and "the 4 events before it are intact" in msg
    assert json.loads(run(db, "audit", "verify", "--json").stdout)["first_bad"]["id"] == 5


def test_audit_head_is_a_witness_that_verify_expect_checks(db: str) -> None:
    head = ok(db, "audit", "head")
    assert head.count("\n") == 1 and head.startswith("7:") and len(head.strip()) == 2 + 64
    as_json = json.loads(ok(db, "audit", "head", "--json"))
    assert as_json["head"] == head.strip() and (as_json["event"], as_json["events"]) == (7, 7)
    ok(db, "move", "churn", "build", MLOPS_USER="bob")
    newer = ok(db, "audit", "head").strip()
    for kept in (newer, head, head.split(":")[1], head.split(":")[1][:16]):
        out = ok(db, "audit", "verify", "--expect", kept)
        assert out.startswith("8 events, chain intact") and "through the witnessed head" in out
    bad = fails(db, "audit", "verify", "--expect", "7:" + "ab" * 32, code=9)
    assert bad.startswith("mlops: audit chain broken: event #7 is not the witnessed head")
    assert "a witnessed head is ID:HASH, as the audit head prints it" in fails(
        db, "audit", "verify", "--expect", "yesterday", code=2
    )
    if db.startswith("postgresql://"):
        raw_execute(db, "ALTER TABLE events DISABLE TRIGGER events_append_only")
    else:
        raw_execute(db, "DROP TRIGGER events_no_delete")
    raw_execute(db, "DELETE FROM events WHERE id > 5")
    msg = fails(db, "audit", "verify", code=9)
    assert msg == (
        "mlops: audit chain broken: events #6 to #8 are missing: the newest events were deleted "
        "(the 5 events before them are intact)"
    )
    assert json.loads(run(db, "audit", "verify", "--json").stdout)["first_bad"]["id"] == 6
    assert "is not the last one the tool appended (#8)" in fails(db, "audit", "head", code=9)
    assert "#6 to #8 are missing" in fails(db, "audit", "verify", "--expect", newer, code=9)
    raw_execute(db, "DELETE FROM events")
    assert fails(db, "audit", "verify", code=9) == (
        "mlops: audit chain broken: events #1 to #8 are missing: every event was deleted"
    )


def test_identity_database_cannot_be_spoofed_with_mlops_user(db: str) -> None:
    if not db.startswith("postgresql://"):
        assert "needs PostgreSQL" in fails(
            db, "settings", "set", "identity", "database", code=2, MLOPS_USER="lead"
        )
        return
    ok(db, "settings", "set", "identity", "database", MLOPS_USER="lead")
    ok(db, "move", "churn", "build", MLOPS_USER="the-ceo")
    (last,) = json.loads(ok(db, "history", "churn", "--json", "-n", "1", MLOPS_USER="the-ceo"))
    from psycopg.conninfo import conninfo_to_dict

    assert last["actor"] == conninfo_to_dict(db)["user"]  # the connection's role, not the-ceo
