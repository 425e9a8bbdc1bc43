"""Faults a team meets for real: a writer killed halfway, a build whose process died, a
read-only or full disk, no Docker engine, and the PostgreSQL server restarted under the TUI
and under `mlops check --watch`. Each leaves the database consistent and says so in one
clear line."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mlops_tui.domain import Stage
from mlops_tui.services import audit, lifecycle, queries, transfer
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.conftest import interruptible
from tests.loop_model import serving  # noqa: F401 - a fixture: a model that really serves
from tests.reliability.conftest import _unavailable, remount
from tests.reliability.helpers import (
    assert_state_is_the_replayed_history,
    mlops,
    seed_team,
    worker,
)


def one_line(stderr: str) -> str:
    """An expected error: exactly one line, never a traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def next_writer_proceeds(db: str, name: str, ctx: Context) -> None:
    """The next `mlops move` lands at once: no lock was left behind."""
    target = queries.model(ctx, name).stage.next()
    start = time.monotonic()
    done = mlops("move", name, str(target), "--force", "--note", "after the crash", db=db)
    assert done.returncode == 0, done.stderr
    assert "locked" not in done.stderr
    assert time.monotonic() - start < 8  # SQLite would wait 10 s for a stuck lock
    assert queries.model(ctx, name).stage == target


def body(ctx: Context) -> list[str]:
    out = io.StringIO()
    transfer.export(ctx, out)
    return out.getvalue().splitlines()[1:]  # without the header and its export time


def test_a_writer_killed_mid_stream_leaves_the_database_consistent(db_url, ctx) -> None:
    lifecycle.add_model(ctx, "killed", owner=ctx.actor)
    landed: list[int] = []
    for round_, after in enumerate((7, 23, 41)):
        proc = worker("loop", db_url, "killed")
        for _ in range(after):  # it writes flat out: the kill lands mid-change
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            landed.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL, round_
        ids = {e.id for e in queries.history(ctx, model="killed", limit=0)}
        assert set(landed) <= ids  # what it was told had landed is there …
        assert_state_is_the_replayed_history(ctx)  # … and nothing half-written
        assert audit.verify(ctx).intact  # the chain's anchor went back with the rollback
    next_writer_proceeds(db_url, "killed", ctx)
    assert_state_is_the_replayed_history(ctx)
    assert audit.verify(ctx).intact


def test_a_writer_killed_inside_its_transaction_leaves_no_trace(db_url, ctx) -> None:
    lifecycle.add_model(ctx, "frozen", owner=ctx.actor)
    proc = worker("hang", db_url, "frozen")
    line = proc.stdout.readline()
    assert line.startswith("inside "), proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)  # the move and its event are written, not committed
    proc.wait(timeout=10)
    model = queries.model(ctx, "frozen")
    assert (model.stage, model.revision) == (Stage.PLAN, 1)
    kinds = [e.kind for e in queries.history(ctx, model="frozen", limit=0)]
    assert kinds == ["model.created"]
    assert audit.verify(ctx).intact  # no false alarm: the anchor was never committed either
    next_writer_proceeds(db_url, "frozen", ctx)
    assert_state_is_the_replayed_history(ctx)
    assert audit.verify(ctx).intact


def test_a_build_whose_process_was_killed_shows_as_interrupted(
    db_url, gitrepo, base_image, docker_client
) -> None:
    token = uuid.uuid4().hex
    gitrepo.commit("slow", Dockerfile=f"FROM {base_image}\nRUN echo {token} && sleep 30\n")
    repo = str(gitrepo.path)
    mlops("model", "add", "slow", "--owner", "tester", "--repo", repo, db=db_url, check=True)
    mlops("move", "slow", "build", db=db_url, check=True)
    exe = str(Path(sys.executable).with_name("mlops"))
    proc = subprocess.Popen(
        [exe, "build", "slow"],
        env={**os.environ, "MLOPS_DB": db_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "Running in" not in proc.stdout.readline():  # the silent sleep has started
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        listed = mlops("builds", "slow", db=db_url)
        assert listed.returncode == 0, listed.stderr
        assert "interrupted" in listed.stdout.splitlines()[1]
        (build,) = json.loads(mlops("builds", "slow", "--json", db=db_url).stdout)
        assert build["status"] == "interrupted" and "died" in build["error"]
        refused = mlops("move", "slow", "test", db=db_url)
        assert refused.returncode == 2 and "cannot go to test" in one_line(refused.stderr)
    finally:
        for c in docker_client.containers.list(all=True):
            if token in " ".join(c.attrs["Config"].get("Cmd") or []):
                c.remove(force=True)


def test_no_docker_engine_refuses_the_build_and_records_no_success(db_url, gitrepo) -> None:
    gitrepo.commit("first", Dockerfile="FROM scratch\nCOPY m.txt /m.txt\n", **{"m.txt": "1"})
    repo = str(gitrepo.path)
    mlops("model", "add", "nodock", "--owner", "tester", "--repo", repo, db=db_url, check=True)
    mlops("move", "nodock", "build", db=db_url, check=True)
    done = mlops("build", "nodock", db=db_url, DOCKER_HOST="unix:///nonexistent.sock")
    assert done.returncode == 6
    assert "cannot reach the Docker engine" in one_line(done.stderr)
    builds = json.loads(mlops("builds", "nodock", "--json", db=db_url).stdout)
    assert not [b for b in builds if b["status"] == "succeeded"]
    shown = json.loads(mlops("status", "nodock", "--json", db=db_url).stdout)
    assert (shown["stage"], shown["version"]) == ("build", None)
    assert mlops("move", "nodock", "test", db=db_url).returncode == 2  # the gate stays shut


def _seeded_file(path: Path) -> tuple[str, list[str], str]:
    """A demo database in `path`, what it holds, and a model in Plan."""
    db = str(path / "mlops.db")
    with open_store(db) as store:
        ctx = Context(store, "x")
        seed_team(ctx, 6)
        held = body(ctx)
        plan = next(m.name for m in queries.models(ctx) if m.stage is Stage.PLAN)
    return db, held, plan


def _refused_cleanly(db: str, plan: str, reason: str) -> None:
    for args in (["move", plan, "build"], ["model", "add", "newcomer", "--owner", "tester"]):
        done = mlops(*args, db=db)
        assert done.returncode == 4, done.stderr
        line = one_line(done.stderr)
        assert line.startswith(f"mlops: cannot use the database {db}: ") and reason in line


def _unchanged(db: str, held: list[str]) -> None:
    with open_store(db) as store:
        ctx = Context(store, "x")
        assert body(ctx) == held
        assert_state_is_the_replayed_history(ctx, revisions=False)  # demo data has builds


def test_a_database_on_a_read_only_filesystem(small_fs: Path) -> None:
    db, held, plan = _seeded_file(small_fs)
    remount(small_fs, "ro")  # root ignores file modes; a read-only mount binds even root
    try:
        _refused_cleanly(db, plan, "read-only")
    finally:
        remount(small_fs, "rw")
    _unchanged(db, held)


def test_an_immutable_database_file(tmp_path: Path) -> None:
    db, held, plan = _seeded_file(tmp_path)
    if subprocess.run(["chattr", "+i", db], capture_output=True, check=False).returncode:
        _unavailable("chattr +i is not supported on this filesystem")
    try:
        _refused_cleanly(db, plan, "read-only")
    finally:
        subprocess.run(["chattr", "-i", db], check=True)
    _unchanged(db, held)


def _fill(where: Path) -> Path:
    filler = where / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (65536, 1):  # then the last bytes of a page
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError:
                pass
    return filler


def test_a_full_disk_is_one_clear_line_and_no_partial_write(small_fs: Path) -> None:
    db, held, plan = _seeded_file(small_fs)
    # A teammate's TUI holds the database open (its -wal and -shm files exist) …
    with open_store(db) as reader:
        assert reader.count_models() == 6
        filler = _fill(small_fs)
        _refused_cleanly(db, plan, "the disk is full")
    # … or nobody does, and SQLite cannot even create them.
    _refused_cleanly(db, plan, "the disk is full")
    filler.unlink()
    _unchanged(db, held)
    assert mlops("move", plan, "build", db=db).returncode == 0


def test_the_tui_shows_a_postgresql_restart_and_recovers(private_pg) -> None:
    from mlops_tui.tui.widgets.board.column import StageColumn
    from mlops_tui.tui.widgets.shell.banner import Banner
    from tests.tui.helpers import loaded, make_app, wait_for

    with open_store(private_pg.url) as store:
        seed_team(Context(store, "x"), 12)

    def names_in(app, stage: str) -> list[str]:
        column = app.screen.query_one(f"#column-{stage}", StageColumn)
        return [c.model.name for c in column.cards]

    async def scenario() -> None:
        app = make_app(private_pg.url, poll_interval=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            await loaded(pilot)
            banner = app.screen.query_one(Banner)
            assert not banner.display
            shown = names_in(app, "plan")
            await asyncio.to_thread(private_pg.stop)
            await wait_for(pilot, lambda: banner.display, timeout=5.0)
            assert "Database unreachable" in str(banner.render())
            assert names_in(app, "plan") == shown  # what was on screen stays
            await asyncio.to_thread(private_pg.start)
            await wait_for(pilot, lambda: not banner.display, timeout=10.0)
            # The data is live again: a teammate's move shows up.
            with open_store(private_pg.url) as other:
                lifecycle.move(Context(other, "teammate"), shown[0], "build")
            await wait_for(pilot, lambda: shown[0] in names_in(app, "build"), timeout=5.0)

    asyncio.run(scenario())


def test_a_read_only_postgresql_database(private_pg) -> None:
    """A standby, or a database an admin set read-only: one clear line, nothing written."""
    import psycopg

    with open_store(private_pg.url) as store:
        ctx = Context(store, "x")
        seed_team(ctx, 6)
        held = body(ctx)
        plan = next(m.name for m in queries.models(ctx) if m.stage is Stage.PLAN)
    with psycopg.connect(private_pg.url, autocommit=True) as conn:
        conn.execute("ALTER DATABASE postgres SET default_transaction_read_only = on")
    for args in (["move", plan, "build"], ["model", "add", "newcomer", "--owner", "tester"]):
        done = mlops(*args, db=private_pg.url)
        assert done.returncode == 4, done.stderr
        line = one_line(done.stderr)
        where = f"postgresql://postgres@127.0.0.1:{private_pg.port}/postgres"
        assert line == f"mlops: PostgreSQL at {where} is read-only"
    with open_store(private_pg.url) as store:
        assert body(Context(store, "x")) == held


def test_check_watch_reports_a_postgresql_restart_and_recovers(private_pg, gitrepo) -> None:
    """A production model answering its health check, watched every second while the
    database goes away and comes back: one clear line per round while it is down, then the
    model's health again, with no traceback and no restart of the watch."""
    import http.server
    import queue
    import threading

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    sha = gitrepo.commit(
        "serve", **{"mlops.toml": f'[deploy]\nport = {port}\nhealth = "/health"\n'}
    )
    db = private_pg.url
    for args in (
        ["model", "add", "watched", "--owner", "tester", "--repo", str(gitrepo.path)],
        ["move", "watched", "build"],
        ["record", "build", "watched", "--commit", sha, "--image", "watched:ci"],
        ["record", "deploy", "watched", "--version", "1"],
    ):
        done = mlops(*args, db=db)
        assert done.returncode == 0, (args, done.stderr)
    exe = str(Path(sys.executable).with_name("mlops"))
    watch = interruptible(
        [exe, "check", "--watch", "--interval", "1s"],
        env={**os.environ, "MLOPS_DB": db, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in watch.stdout], daemon=True).start()

    def next_line(matching: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if matching in line:
                return line

    try:
        assert "watched v1: ok" in next_line("watched v1")
        private_pg.stop()
        down = next_line("check failed")
        assert "PostgreSQL" in down and "Traceback" not in down
        private_pg.start()
        assert "watched v1: ok" in next_line("watched v1")
        assert watch.poll() is None  # the watch kept going through the outage
    finally:
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=10)
        server.shutdown()
    assert "Traceback" not in err


def test_a_deploy_whose_process_was_killed_shows_as_interrupted(db_url, serving) -> None:  # noqa: F811
    """A deploy waiting for its new version's health check when its process is killed: it
    reads as interrupted, and production stays as it was."""
    serving.commit(health=None)  # the health path never answers: the deploy keeps waiting
    name, repo = serving.name, str(serving.git.path)
    for args in (
        ["model", "add", name, "--owner", "tester", "--repo", repo],
        ["move", name, "build"],
        ["build", name],
        ["move", name, "test", "--force", "--note", "no tests here"],
        ["move", name, "deploy", "--force", "--note", "no tests here"],
    ):
        mlops(*args, db=db_url, check=True)
    exe = str(Path(sys.executable).with_name("mlops"))
    proc = subprocess.Popen(
        [exe, "deploy", name],
        env={**os.environ, "MLOPS_DB": db_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not json.loads(mlops("deployments", name, "--json", db=db_url).stdout):
        assert time.monotonic() < deadline and proc.poll() is None, "the deploy never started"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    (shown,) = json.loads(mlops("deployments", name, "--json", db=db_url).stdout)
    assert shown["status"] == "interrupted"
    listed = mlops("deployments", name, db=db_url).stdout.splitlines()
    assert "interrupted" in listed[1]
    status = json.loads(mlops("status", name, "--json", db=db_url).stdout)
    assert status["production_version"] is None
