"""Shell completion, as bash asks for it: a real `mlops` process with `_MLOPS_COMPLETE` set
completes commands, model names, people, stages and roles from the database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli.test_cli import ok, people


def complete(db: str, line: str, **env: str) -> list[str]:
    """What bash would offer after `line` (the word being typed is its last one)."""
    words = line.split(" ")
    done = subprocess.run(
        [sys.executable, "-m", "mlops_tui"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "MLOPS_DB": db,
            "_MLOPS_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
            **env,
        },
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture
def team_db(db_url: str) -> str:
    ok(db_url, "init")
    people(db_url, "hana", "bruno")
    ok(db_url, "user", "add", "ivan", "--role", "viewer")
    ok(db_url, "user", "add", "monitor", "--bot")
    for name in ("credit-scorer", "credit-scorer-eu", "churn-predictor"):
        ok(db_url, "model", "add", name, "--owner", "hana")
    return db_url


def test_models_people_stages_and_roles_complete(team_db: str) -> None:
    db = team_db
    assert complete(db, "mlops stat") == ["status"]
    assert complete(db, "mlops status cre") == ["credit-scorer", "credit-scorer-eu"]
    assert complete(db, "mlops move churn-predictor ") == [
        "plan",
        "build",
        "test",
        "deploy",
        "monitor",
    ]
    # Who can be made responsible: people, not the viewer, not the bot.
    assert complete(db, "mlops owner set credit-scorer ") == ["bruno", "hana", "tester"]
    assert complete(db, "mlops owner set credit-scorer hana --role ") == [
        "owner",
        "backup",
        "oncall",
    ]
    assert complete(db, "mlops user role iv") == ["ivan"]
    assert complete(db, "mlops user role ivan ") == ["viewer", "member", "maintainer", "admin"]
    assert complete(db, "mlops handoff credit-scorer --to b") == ["bruno"]
    assert complete(db, "mlops settings set open") == ["open_join"]
    assert complete(db, "mlops model add ") == []  # a new name: nothing to offer


def test_a_missing_database_completes_nothing_and_is_not_created(tmp_path) -> None:
    missing = tmp_path / "none.db"
    assert complete(str(missing), "mlops status ") == []
    assert not missing.exists()


def test_the_scripts_install_for_bash() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlops_tui", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "_MLOPS_COMPLETE=complete_bash" in done.stdout
