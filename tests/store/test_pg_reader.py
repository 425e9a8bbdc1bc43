"""The lean PostgreSQL reader (libpq, no psycopg) reads exactly what the full store reads,
and hands over to the full store for anything it does not do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from mlops_tui.errors import InvalidInput, StoreUnavailable
from mlops_tui.services import demo, timetravel
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.store.pg_reader import PostgresReader, open_reader
from mlops_tui.store.postgres import PostgresStore
from tests.conftest import drop_pg_schema, new_pg_schema, raw_execute

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    schema, url = new_pg_schema(pg_server)
    try:
        yield url
    finally:
        drop_pg_schema(pg_server, schema)


@pytest.fixture
def team_url(pg_url: str) -> str:
    """The demo's team (handoffs, alerts, checks, builds…), with an empty description and
    a model without a repository, so empty text and NULL both occur."""
    with open_store(pg_url) as store:
        demo.seed(store, models=12, now=NOW)
    raw_execute(
        pg_url, "UPDATE models SET description = '' WHERE name IN (SELECT min(name) FROM models)"
    )
    raw_execute(
        pg_url, "UPDATE models SET repo = NULL WHERE name IN (SELECT max(name) FROM models)"
    )
    return pg_url


def test_it_reads_what_the_full_store_reads(team_url: str) -> None:
    reader = open_reader(team_url)
    assert isinstance(reader, PostgresReader)
    with reader, PostgresStore(team_url) as full:
        name = full.status_rows()[0].name
        reads = {
            "status_rows": lambda s: s.status_rows(),
            "list_models": lambda s: s.list_models(),
            "get_model": lambda s: s.get_model(name),
            "history": lambda s: s.history(limit=200),
            "replay_events": lambda s: s.replay_events(until=NOW - timedelta(days=7)),
            "last_answered_checks": lambda s: s.last_answered_checks(NOW),
            "list_users": lambda s: s.list_users(),
            "open_alerts": lambda s: s.open_alerts(None),
            "versions": lambda s: s.versions(name),
            "settings": lambda s: s.get_setting("identity"),
            "head": lambda s: s.head(),
            "schema_version": lambda s: s.schema_version(),
        }
        for what, read in reads.items():
            assert read(reader) == read(full), what
        models = reader.list_models()
        assert "" in {m.description for m in models} and None in {m.repo for m in models}


def test_status_at_from_its_checkpoints_is_the_full_stores(team_url: str) -> None:
    from mlops_tui.services import checkpoints

    with open_store(team_url) as store:
        assert checkpoints.keep(Context(store, "alice"), every=10)
    reader = open_reader(team_url)
    assert reader is not None
    with reader, PostgresStore(team_url) as full:
        assert reader.checkpoint(checkpoints.FORMAT) == full.checkpoint(checkpoints.FORMAT)
        for days in (1, 30, 90, 200):
            at = NOW - timedelta(days=days)
            assert timetravel.status_at(Context(reader, "alice"), at) == timetravel.status_at(
                Context(full, "alice"), at
            )


PATHS = (
    "import sys\n"
    "import mlops_tui.store.pg_reader as reader\n"
    "if sys.argv[1] == 'full':\n"
    "    reader.open_reader = lambda url: None\n"
    "import mlops_tui.cli as cli\n"
    "cli.main(sys.argv[2:])\n"
)


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["status", "--stage", "monitor"],
        ["status", "NAME"],
        ["status", "NAME", "--json"],
        ["status", "ghost"],
        ["status", "--at", "2026-04-01"],
        ["status", "--at", "2026-04-01", "--json"],
    ],
)
def test_mlops_status_prints_the_same_through_either(team_url: str, args: list[str]) -> None:
    with open_store(team_url) as store:
        name = store.status_rows()[-1].name
    args = [name if a == "NAME" else a for a in args]
    outputs = []
    for path in ("lean", "full"):
        result = subprocess.run(
            [sys.executable, "-c", PATHS, path, "--db", team_url, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        outputs.append((result.returncode, result.stdout, result.stderr))
    assert outputs[0] == outputs[1]
    if args == ["status", "--json"]:
        assert len(json.loads(outputs[0][1])) == 12


def test_mlops_status_on_postgresql_never_imports_psycopg(team_url: str) -> None:
    probe = (
        "import sys\n"
        "from mlops_tui.cli import main\n"
        "main(['status'])\n"
        "print('psycopg' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "MLOPS_DB": team_url},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "False"


def test_an_older_schema_goes_to_the_full_store_which_migrates(pg_url: str) -> None:
    with open_store(pg_url) as store:
        demo.seed(store, models=3, now=NOW)
    raw_execute(pg_url, "DROP TABLE checkpoints")
    raw_execute(pg_url, "UPDATE mlops_meta SET value = '8' WHERE key = 'schema_version'")
    assert open_reader(pg_url) is None
    with open_store(pg_url, read_only=True) as store:
        assert isinstance(store, PostgresStore)
        assert len(store.status_rows()) == 3
    reader = open_reader(pg_url)
    assert reader is not None  # migrated: the lean reader serves it again
    reader.close()


def test_problems_read_as_the_full_store_words_them(pg_server: str) -> None:
    unreachable = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"
    with pytest.raises(StoreUnavailable) as lean:
        open_store(unreachable, read_only=True)
    with pytest.raises(StoreUnavailable) as full:
        open_store(unreachable)
    assert lean.value.message == full.value.message
    assert "cannot reach PostgreSQL at postgresql://nobody@127.0.0.1:9/none" in lean.value.message
    bad = "postgresql://127.0.0.1/x?nonsense=1"
    with pytest.raises(InvalidInput) as lean_bad:
        open_store(bad, read_only=True)
    with pytest.raises(InvalidInput) as full_bad:
        open_store(bad)
    assert lean_bad.value.message == full_bad.value.message


def test_it_never_writes(team_url: str) -> None:
    reader = open_reader(team_url)
    assert reader is not None
    with reader, pytest.raises(RuntimeError, match="cannot write"), reader._write():
        pass
