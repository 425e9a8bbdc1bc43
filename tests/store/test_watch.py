"""Change notices: PostgreSQL tells a watcher when its own schema's history grows, and only
then; SQLite has no watcher (its readers poll)."""

from __future__ import annotations

import pytest

from mlops_tui.services import lifecycle
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.conftest import drop_pg_schema, new_pg_schema


def test_sqlite_offers_no_watch(tmp_path) -> None:
    with open_store(str(tmp_path / "m.db")) as store:
        assert store.watch() is None


def test_a_watch_wakes_for_its_own_schema_only(request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue("pg_server")
    ours, our_url = new_pg_schema(server)
    theirs, their_url = new_pg_schema(server)
    try:
        with open_store(our_url) as store, open_store(their_url) as other:
            watch = store.watch()
            assert watch is not None
            try:
                assert not watch.wait(0.2)  # nothing happened
                lifecycle.add_model(Context(other, "bob"), "elsewhere", owner="bob")
                assert not watch.wait(1.0)  # another team's change
                lifecycle.add_model(Context(store, "alice"), "churn", owner="alice")
                assert watch.wait(10.0)
                assert not watch.wait(0.2)  # one notice per change, consumed
            finally:
                watch.close()
                watch.close()  # twice is fine
    finally:
        drop_pg_schema(server, ours)
        drop_pg_schema(server, theirs)
