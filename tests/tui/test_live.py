"""Shared and live: other people's changes appear without a key press; outages show."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_tui.services import lifecycle
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.widgets.board.column import StageColumn
from mlops_tui.tui.widgets.shell.banner import Banner
from tests.tui.helpers import async_test, loaded, make_app, wait_for


def names_in(app, stage: str) -> list[str]:
    return [c.model.name for c in app.screen.query_one(f"#column-{stage}", StageColumn).cards]


@async_test
async def test_a_move_by_another_connection_appears_within_two_seconds(demo_db):
    app = make_app(demo_db)  # the real one-second poll
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = names_in(app, "plan")[-1]
        with open_store(demo_db) as other:
            lifecycle.move(Context(other, "teammate"), name, "build")
        took = await wait_for(pilot, lambda: name in names_in(app, "build"), timeout=2.0)
        assert name not in names_in(app, "plan")
        assert took < 2.0


@async_test
async def test_r_reloads_at_once(demo_db):
    app = make_app(demo_db, poll_interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        name = names_in(app, "plan")[0]
        with open_store(demo_db) as other:
            lifecycle.move(Context(other, "teammate"), name, "build")
        await pilot.pause(0.3)
        assert name in names_in(app, "plan")  # no poll: still the old state
        await pilot.press("r")
        await wait_for(pilot, lambda: name in names_in(app, "build"), timeout=2.0)


def _files(db: str) -> list[str]:
    return [p for p in (db, db + "-wal", db + "-shm") if os.path.exists(p)]


@async_test
async def test_a_broken_database_shows_the_banner_keeps_the_board_and_recovers(demo_db):
    app = make_app(demo_db, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        banner = app.screen.query_one(Banner)
        assert not banner.display
        shown = names_in(app, "plan")
        # The file is overwritten behind the app's back, as a bad restore or a full disk would.
        saved = {p: Path(p).read_bytes() for p in _files(demo_db)}
        for path, data in saved.items():
            with open(path, "r+b") as f:
                f.write(b"\xde\xad" * (len(data) // 2))
        await wait_for(pilot, lambda: banner.display, timeout=2.0)
        text = str(banner.render())
        assert "Database unreachable" in text and "retrying" in text
        assert names_in(app, "plan") == shown  # what was on screen stays
        for path, data in saved.items():
            with open(path, "r+b") as f:
                f.write(data)
        await wait_for(pilot, lambda: not banner.display, timeout=3.0)


@async_test
async def test_a_database_that_cannot_be_opened_shows_the_banner_not_a_traceback(tmp_path):
    folder = tmp_path / "not-a-db"
    folder.mkdir()
    app = make_app(str(folder))  # a directory cannot be opened as a database
    async with app.run_test(size=(100, 30)) as pilot:
        banner = app.screen.query_one(Banner)
        await wait_for(pilot, lambda: banner.display, timeout=2.0)
        assert "Database unreachable" in str(banner.render())
        assert app.is_running


@pytest.fixture
def team_on_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    """A small team in a fresh PostgreSQL schema."""
    from tests.conftest import drop_pg_schema, new_pg_schema

    server = request.getfixturevalue("pg_server")
    schema, url = new_pg_schema(server)
    try:
        with open_store(url) as store:
            ctx = Context(store, "alice")
            for name in ("churn", "fraud", "ltv"):
                lifecycle.add_model(ctx, name, owner="alice")
        yield url
    finally:
        drop_pg_schema(server, schema)


@async_test
async def test_on_postgresql_a_change_shows_as_it_commits_without_a_poll(team_on_postgres):
    """LISTEN/NOTIFY: with the poll an hour away, only the notice can bring the change."""
    app = make_app(team_on_postgres, poll_interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.pause(0.5)  # the listening connection is up
        with open_store(team_on_postgres) as other:
            lifecycle.move(Context(other, "teammate"), "fraud", "build")
        await wait_for(pilot, lambda: "fraud" in names_in(app, "build"), timeout=10.0)
        assert names_in(app, "plan") == ["churn", "ltv"]


@async_test
async def test_on_sqlite_there_is_no_listener_and_the_poll_does_the_work(demo_db):
    app = make_app(demo_db, poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.backend.watch() is None
        name = names_in(app, "plan")[0]
        with open_store(demo_db) as other:
            lifecycle.move(Context(other, "teammate"), name, "build")
        await wait_for(pilot, lambda: name in names_in(app, "build"), timeout=5.0)
