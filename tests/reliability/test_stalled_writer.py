"""A writer stalled inside its transaction (a process stopped in a debugger, a laptop closed
over SSH) keeps its locks: its model's row, and the audit chain's lock that every change
takes. Nobody waits for it forever: an `mlops move` behind it, on its model or on any other,
gives up after about 10 s with one line and exit 4, on SQLite as on PostgreSQL, and writes go
through again once the stalled transaction ends. PostgreSQL ends it by itself: the server
cuts off a session idle inside a transaction (never one idle between transactions, as the
TUI's is), and the stalled process, when it wakes, says in one line that nothing was written.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from mlops_tui.domain import Stage
from mlops_tui.services import lifecycle, queries
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.conftest import drop_pg_schema, new_pg_schema
from tests.reliability.helpers import assert_state_is_the_replayed_history, mlops, worker

GIVE_UP_S = 10  # PostgreSQL's lock_timeout here, and SQLite's busy timeout
IDLE_CUT_OFF = "2s"  # the test's own idle_in_transaction_session_timeout, to be quick


def one_line(stderr: str) -> str:
    """An expected error: exactly one line, never a traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def stalled_writer(db: str, name: str, seconds: float) -> subprocess.Popen[str]:
    """`mlops move NAME build`, stopped inside its transaction once its event is written."""
    proc = worker("stall", db, name, str(seconds))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=60)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"the writer never reached its transaction: {proc.communicate()[1]}")
    assert line.startswith("inside "), proc.communicate(timeout=30)[1]
    return proc


def timed_move(db: str, name: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = mlops("move", name, "build", db=db)
    return time.monotonic() - started, done


def test_a_writer_behind_a_stalled_one_gives_up_in_10_s_then_writes_resume(
    db_url: str, ctx: Context
) -> None:
    for name in ("stuck", "other"):
        lifecycle.add_model(ctx, name, owner=ctx.actor)
    stalled = stalled_writer(db_url, "stuck", 600)
    try:
        # Behind the stalled move: one on another model (the audit chain's lock on
        # PostgreSQL, the write lock on SQLite) and one on its model (also its row).
        with ThreadPoolExecutor(2) as pool:
            behind = list(pool.map(lambda name: timed_move(db_url, name), ["other", "stuck"]))
        for elapsed, done in behind:
            assert done.returncode == 4, done.stderr
            line = one_line(done.stderr)
            assert line.startswith("mlops: cannot use the database "), line
            assert f"stayed locked by another writer for {GIVE_UP_S} s" in line, line
            print(f"gave up after {elapsed:.1f} s: {line}")
            assert GIVE_UP_S - 1 <= elapsed < GIVE_UP_S + 6
        assert stalled.poll() is None  # still stalled: nobody waited for it to finish
    finally:
        stalled.kill()  # the stalled transaction ends with its process
        stalled.communicate(timeout=30)
    assert (queries.model(ctx, "stuck").stage, queries.model(ctx, "other").stage) == (
        Stage.PLAN,
        Stage.PLAN,
    )
    for name in ("other", "stuck"):
        elapsed, done = timed_move(db_url, name)
        assert done.returncode == 0, done.stderr
        assert elapsed < GIVE_UP_S - 2  # at once: no lock was left behind
        assert queries.model(ctx, name).stage == Stage.BUILD
    assert_state_is_the_replayed_history(ctx)


@pytest.fixture
def pg_urls(pg_server: str) -> Iterator[tuple[str, str]]:
    """Two URLs on one fresh schema: as configured, and with a short cut-off for idle
    transactions passed in the URL's options, as a DBA would tune it."""
    schema, url = new_pg_schema(pg_server)
    sep = "&" if "?" in pg_server else "?"
    options = f"-csearch_path={schema} -c idle_in_transaction_session_timeout={IDLE_CUT_OFF}"
    try:
        yield url, f"{pg_server}{sep}options={quote(options)}"
    finally:
        drop_pg_schema(pg_server, schema)


def test_postgresql_ends_a_stalled_session_and_its_process_says_so(
    pg_urls: tuple[str, str],
) -> None:
    url, quick = pg_urls
    with open_store(url) as store, open_store(quick) as board:
        ctx = Context(store, "alice")
        for name in ("stuck", "other"):
            lifecycle.add_model(ctx, name, owner=ctx.actor)
        # A connection left open as the TUI leaves it, idle between two transactions.
        seen = [m.name for m in queries.models(Context(board, "p0"))]
        stalled = stalled_writer(quick, "stuck", 8)
        try:
            elapsed, done = timed_move(url, "other")
            # Through once the server ended the stalled session, well before giving up.
            assert done.returncode == 0, done.stderr
            print(f"went through after {elapsed:.1f} s")
            assert elapsed < GIVE_UP_S - 2
            out, err = stalled.communicate(timeout=60)
        finally:
            if stalled.poll() is None:
                stalled.kill()
                stalled.communicate(timeout=30)
        assert stalled.returncode == 4, err
        line = one_line(err)
        assert line == (
            f"mlops: PostgreSQL at {board.location} ended this session because it stalled "
            "inside its transaction: nothing was written, try again"
        )
        assert out == ""  # after its "inside N", nothing: the move never landed
        assert queries.model(ctx, "stuck").stage == Stage.PLAN
        assert queries.model(ctx, "other").stage == Stage.BUILD
        assert_state_is_the_replayed_history(ctx)
        # The board's connection sat idle for longer than the cut-off, outside any
        # transaction: it still reads and writes.
        mine = Context(board, "p0")
        assert [m.name for m in queries.models(mine)] == seen
        lifecycle.move(mine, "stuck", "build")
        assert queries.model(ctx, "stuck").stage == Stage.BUILD
