"""Typos get help: an unknown command, model, person or stage names the close ones, once,
and a command that names a person refuses one who is not on the team. Real processes."""

from __future__ import annotations

import pytest

from tests.cli.test_cli import fails, ok, people, run


@pytest.fixture
def team_db(db_url: str) -> str:
    ok(db_url, "init")
    people(db_url, "hana", "bruno")
    for name in ("credit-scorer", "credit-scorer-eu", "churn-predictor"):
        ok(db_url, "model", "add", name, "--owner", "hana")
    return db_url


def test_a_mistyped_command_is_suggested_once(db_url: str) -> None:
    for args, wrong, right in (
        (("stauts",), "stauts", "status"),
        (("user", "lsit"), "lsit", "list"),
        (("handoff", "lst"), "lst", "list"),  # not read as a model called "lst"
    ):
        done = run(db_url, *args)
        assert done.returncode == 2
        assert f"No such command '{wrong}'" in done.stderr
        assert done.stderr.count("Did you mean") == 1, done.stderr
        assert f"'{right}'" in done.stderr


def test_a_mistyped_model_stage_or_person_names_the_close_ones(team_db: str) -> None:
    db = team_db
    assert fails(db, "status", "credit-scorr", code=2) == (
        "mlops: no model named 'credit-scorr': did you mean 'credit-scorer' or "
        "'credit-scorer-eu'? see `mlops model list`"
    )
    assert "did you mean 'churn-predictor'?" in fails(db, "move", "churn-predictr", "build")
    assert fails(db, "move", "churn-predictor", "bild", code=2) == (
        "mlops: unknown stage 'bild': did you mean 'build'? "
        "the stages are plan, build, test, deploy, monitor"
    )
    assert "did you mean 'hana'?" in fails(db, "user", "show", "hanna", code=2)
    assert "did you mean 'credit-scorer' or" in fails(db, "history", "credit-scorerr", code=2)


def test_nobody_is_made_responsible_without_existing(team_db: str) -> None:
    db = team_db
    before = ok(db, "history", "--json")
    assert fails(db, "owner", "set", "credit-scorer", "nobodyknown", code=2) == (
        "mlops: nobodyknown is not on the team, so cannot be the owner; "
        "add them with `mlops user add nobodyknown`"
    )
    assert fails(db, "owner", "set", "credit-scorer", "brunno", "--role", "backup") == (
        "mlops: brunno is not on the team, so cannot be the backup: did you mean 'bruno'? "
        "add them with `mlops user add brunno`"
    )
    assert "not on the team" in fails(db, "handoff", "credit-scorer", "--to", "zed", code=2)
    assert "not on the team" in fails(db, "model", "add", "x", "--owner", "zed", code=2)
    assert ok(db, "history", "--json") == before  # nothing was written
    # The one stranger who may be named is oneself, joining with that change (open_join).
    ok(db, "model", "add", "mine", "--owner", "newbie", MLOPS_USER="newbie")
    assert "newbie" in ok(db, "user", "show", "newbie")


def test_a_service_account_is_shown_and_never_made_responsible(team_db: str) -> None:
    db = team_db
    assert ok(db, "user", "add", "ci", "--bot") == "added ci as maintainer (a service account)\n"
    listed = {line.split()[0]: line.split()[1] for line in ok(db, "user", "list").splitlines()}
    assert (listed["NAME"], listed["ci"], listed["hana"]) == ("KIND", "bot", "person")
    assert "kind:    bot" in ok(db, "user", "show", "ci")
    assert "is a service account" in fails(db, "owner", "set", "credit-scorer", "ci", code=2)
    assert "added ci as maintainer (bot)" in ok(db, "history", "--by", "tester")
    ok(db, "move", "credit-scorer", "build", MLOPS_USER="ci")  # it still acts


def test_version_names_the_schema_and_the_future_is_refused(team_db: str) -> None:
    from mlops_tui import __version__
    from mlops_tui.store.migrations import LATEST

    assert ok(team_db, "--version") == f"mlops-tui {__version__} (database schema v{LATEST})\n"
    refused = fails(team_db, "status", "--at", "2999-01-01", code=2)
    assert "is in the future" in refused and "time travel shows the past" in refused
