"""A database made by an earlier release opens with today's code, migrated in place, with
nothing lost: every model, event, build and version it held is still there, unchanged, and
the tool works on it.

The fixtures were made by the old releases' own code (tests/fixtures/make_old_schemas.py
says how): SQLite files, a PostgreSQL schema as pg_dump wrote it, and a JSON summary of
what each held, written by that same old code.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_tui.domain import Stage
from mlops_tui.services import queries
from mlops_tui.services.context import Context
from mlops_tui.store import migrations, open_store
from tests.conftest import drop_pg_schema, new_pg_schema, raw_execute
from tests.reliability.helpers import assert_state_is_the_replayed_history, mlops

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(params=["schema_v1", "schema_v2", "schema_v2.postgres"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict]]:
    """A database as the old release left it: a copy of its SQLite file, or its PostgreSQL
    schema restored from the plain SQL pg_dump wrote, in a fresh schema."""
    name = request.param
    summary = json.loads((FIXTURES / f"{name}.json").read_text())
    assert f"schema_v{summary['schema_version']}" == name.split(".")[0]
    if not name.endswith(".postgres"):
        copy = tmp_path / "old.db"
        shutil.copyfile(FIXTURES / f"{name}.db", copy)
        yield str(copy), summary
        return
    server = request.getfixturevalue("pg_server")
    schema, url = new_pg_schema(server)
    try:
        sql = (FIXTURES / f"{name}.sql").read_text().replace("__SCHEMA__.", f"{schema}.")
        raw_execute(url, sql)
        yield url, summary
    finally:
        drop_pg_schema(server, schema)


def test_an_old_database_is_upgraded_in_place_without_loss(old_db) -> None:
    db, summary = old_db
    done = mlops("init", db=db)
    assert done.returncode == 0, done.stderr
    assert f"from schema v{summary['schema_version']} to v{migrations.LATEST}" in done.stdout
    assert "up to date" in mlops("init", db=db).stdout  # and only once
    with open_store(db) as store:
        assert store.schema_version() == migrations.LATEST
        now: dict[str, list[dict]] = {}
        for kind, row in store.dump():
            now.setdefault(kind, []).append(row)
        for kind, rows in summary["records"].items():
            assert len(now.get(kind, [])) == len(rows), kind
            for old, new in zip(rows, now[kind], strict=True):
                # Later schemas add columns (the audit chain's hashes…); what was there stays.
                assert {k: new.get(k) for k in old} == old, (kind, old)
        assert_state_is_the_replayed_history(Context(store, "x"), revisions=False)


def test_the_tool_works_on_an_upgraded_database(old_db) -> None:
    db, summary = old_db
    models = summary["records"]["model"]
    plan = next(m["name"] for m in models if m["stage"] == "plan")
    moved = mlops("move", plan, "build", db=db)  # the first command migrates by itself
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.startswith(f"{plan}: plan → build")
    (latest, *_) = json.loads(mlops("history", plan, "--json", db=db).stdout)
    assert (latest["kind"], latest["data"]["to"]) == ("stage.moved", "build")
    status = json.loads(mlops("status", "--json", db=db).stdout)
    assert len(status) == len(models)
    assert next(s for s in status if s["name"] == plan)["stage"] == "build"
    audit = mlops("audit", "verify", db=db)
    if "No such command" not in audit.stderr:  # this build has the audit chain
        assert audit.returncode == 0, audit.stderr
        assert "chain intact" in audit.stdout
    head = mlops("audit", "head", db=db)
    if "No such command" not in head.stderr:  # the chain's anchor is in this build
        # The upgrade anchored the old history at its newest event; the move went on from it.
        assert head.returncode == 0, head.stderr
        assert head.stdout.startswith(f"{latest['id']}:")
        assert mlops("audit", "verify", "--expect", head.stdout, db=db).returncode == 0
    with open_store(db) as store:
        ctx = Context(store, "x")
        assert queries.model(ctx, plan).stage is Stage.BUILD
        assert len(queries.history(ctx, limit=0)) == len(summary["records"]["event"]) + 1
