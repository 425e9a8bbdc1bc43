"""The lean PostgreSQL reader (libpq, no psycopg) reads exactly what the full store reads,
and hands over to the full store for anything it does not do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlops_tui.domain import AlertStatus
from mlops_tui.errors import InvalidInput, StoreUnavailable
from mlops_tui.services import demo, timetravel
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from mlops_tui.store.pg_reader import PostgresReader, open_reader
from mlops_tui.store.postgres import PostgresStore
from mlops_tui.store.schema import Not
from tests.conftest import both_ways, drop_pg_schema, new_pg_schema, raw_execute

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


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
            "list_users": lambda s: s.rows(schema.USERS, order="name"),
            "open_alerts": lambda s: s.rows(schema.ALERTS, status=Not(AlertStatus.RESOLVED)),
            "versions": lambda s: s.rows(schema.VERSIONS, model=name, order="number DESC"),
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
    lean, full = both_ways(PATHS, ("lean", "full"), "--db", team_url, *args)
    assert lean == full
    if args == ["status", "--json"]:
        assert len(json.loads(lean[1])) == 12


def test_an_older_schema_goes_to_the_full_store_which_migrates(pg_server: str) -> None:
    """A schema an earlier release left (as pg_dump wrote it), so the test holds whatever
    migrations come after it."""
    schema_name, url = new_pg_schema(pg_server)
    try:
        dump = (FIXTURES / "schema_v2.postgres.sql").read_text()
        raw_execute(url, dump.replace("__SCHEMA__.", f"{schema_name}."))
        summary = json.loads((FIXTURES / "schema_v2.postgres.json").read_text())
        models = len(summary["records"]["model"])  # what the old release wrote
        assert open_reader(url) is None
        with open_store(url, read_only=True) as store:
            assert isinstance(store, PostgresStore)
            assert len(store.status_rows()) == models
        reader = open_reader(url)
        assert reader is not None  # migrated: the lean reader serves it again
        assert len(reader.status_rows()) == models
        reader.close()
    finally:
        drop_pg_schema(pg_server, schema_name)


@pytest.mark.parametrize(
    ("url", "error", "says"),
    [
        (
            "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2",
            StoreUnavailable,
            "cannot reach PostgreSQL at postgresql://nobody@127.0.0.1:9/none",
        ),
        ("postgresql://127.0.0.1/x?nonsense=1", InvalidInput, "invalid PostgreSQL URL"),
    ],
)
def test_problems_read_as_the_full_store_words_them(
    pg_server: str, url: str, error: type[Exception], says: str
) -> None:
    messages = []
    for read_only in (True, False):
        with pytest.raises(error) as raised:
            open_store(url, read_only=read_only)
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and says in messages[0]


def test_it_never_writes(team_url: str) -> None:
    reader = open_reader(team_url)
    assert reader is not None
    with reader, pytest.raises(RuntimeError, match="cannot write"), reader._write():
        pass
