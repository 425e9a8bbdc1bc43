"""`mlops doctor` as people run it: a real process, on both backends. Besides what each
check says, the tests hold doctor to only looking: no database file created, no schema
migrated, no event recorded, nothing POSTed to a webhook."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_tui.store.migrations import LATEST
from tests.cli.test_cli import ok
from tests.cli.test_cli import run as mlops
from tests.conftest import GitFixture, drop_pg_schema, new_pg_schema, raw_execute
from tests.receiver import Receiver, free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MARKS = {"✓": "ok", "!": "warn", "✗": "problem"}


def doctor(db: str, *args: str, **env: str) -> tuple[int, list[dict[str, Any]]]:
    """(exit code, the checks) of `mlops doctor --json ARGS`."""
    done = mlops(db, "doctor", "--json", *args, **env)
    assert "Traceback" not in done.stderr and done.stderr == "", done.stderr
    checks = json.loads(done.stdout)
    for check in checks:
        assert set(check) == {"name", "status", "detail", "fix"}, check
        assert check["status"] in ("ok", "warn", "problem"), check
        assert "\n" not in check["detail"] and "\n" not in (check["fix"] or "")
        assert (check["fix"] is None) == (check["status"] == "ok"), check
    failing = ("problem", "warn") if "--strict" in args else ("problem",)
    assert done.returncode == (1 if any(c["status"] in failing for c in checks) else 0)
    return done.returncode, checks


def one(checks: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [c for c in checks if c["name"] == name]
    assert len(found) == 1, (name, checks)
    return found[0]


def history(db: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(ok(db, "history", "--json", "--limit", "0"))
    return events


def digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def db(db_url: str) -> str:
    ok(db_url, "init")
    ok(db_url, "model", "add", "churn", "--owner", "tester")
    return db_url


# -- the database ----------------------------------------------------------------------------
def test_a_healthy_database_passes_and_is_left_as_it_was(db: str) -> None:
    events = history(db)
    before = digest(db) if not db.startswith("postgresql") else None
    code, checks = doctor(db)
    assert code == 0
    assert not [c for c in checks if c["status"] == "problem"], checks
    assert one(checks, "database")["detail"].endswith(f": schema v{LATEST}, 1 model")
    assert one(checks, "identity")["detail"] == "you are tester (maintainer, from MLOPS_USER)"
    assert one(checks, "git")["detail"].startswith("git version ")
    assert one(checks, "repos")["detail"] == "not checked: no repository for churn"
    assert history(db) == events
    if before is not None:
        assert digest(db) == before

    text = mlops(db, "doctor")
    lines = text.stdout.splitlines()
    assert [line.split()[1] for line in lines] == [c["name"].split()[0] for c in checks]
    for line, check in zip(lines, checks, strict=True):
        assert MARKS[line[0]] == check["status"]
        assert (" → fix: " in line) == (check["status"] != "ok"), line


def test_a_missing_database_is_reported_and_not_created(tmp_path: Path, db: str) -> None:
    missing = tmp_path / "nowhere" / "mlops.db"
    done = mlops(db, "--db", str(missing), "doctor")  # --db wins over MLOPS_DB
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("✗ database")]
    assert f"no database at {missing} (--db)" in line and "→ fix: `mlops init`" in line
    assert any(ln.startswith("✓ git") for ln in done.stdout.splitlines())  # the rest still ran
    code, checks = doctor(str(missing))
    assert code == 1 and "(MLOPS_DB)" in one(checks, "database")["detail"]
    assert not missing.exists() and not missing.parent.exists()


def test_an_unreachable_server_is_one_line() -> None:
    code, checks = doctor(f"postgresql://mlops@127.0.0.1:{free_port()}/nope")
    found = one(checks, "database")
    assert code == 1 and found["status"] == "problem"
    assert found["detail"].startswith("cannot reach PostgreSQL") and "MLOPS_DB" in found["fix"]


@pytest.fixture(params=["schema_v1", "schema_v2.postgres"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A database an earlier release left, and its schema version."""
    if request.param == "schema_v1":
        copy = tmp_path / "old.db"
        shutil.copyfile(FIXTURES / "schema_v1.db", copy)
        yield str(copy), 1
        return
    server = request.getfixturevalue("pg_server")
    schema, url = new_pg_schema(server)
    try:
        sql = (FIXTURES / "schema_v2.postgres.sql").read_text()
        raw_execute(url, sql.replace("__SCHEMA__.", f"{schema}."))
        yield url, 2
    finally:
        drop_pg_schema(server, schema)


def pg_schema_version(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM mlops_meta WHERE key = 'schema_version'")
        return int(row.fetchone()[0])


def test_an_old_schema_is_reported_and_not_migrated(old_db: tuple[str, int]) -> None:
    url, version = old_db
    before = digest(url) if not url.startswith("postgresql") else None
    code, checks = doctor(url)
    found = one(checks, "database")
    assert code == 1 and found["status"] == "problem"
    assert found["detail"].endswith(f"is at schema v{version}: this mlops needs v{LATEST}")
    assert "`mlops init` migrates it" in found["fix"]
    # Nothing is read from a schema this release does not know.
    assert [c["name"] for c in checks] == ["database", "docker", "git"]
    if before is None:
        assert pg_schema_version(url) == version
    else:  # the version is in the file's header; no WAL left to fold into it later
        assert digest(url) == before and not os.path.exists(f"{url}-wal")


# -- people ----------------------------------------------------------------------------------
def test_an_unknown_name_with_open_join_off_can_only_read(tmp_path: Path) -> None:
    db = str(tmp_path / "team.db")
    ok(db, "init")
    ok(db, "settings", "set", "open_join", "false")  # tester joins, the team closes
    code, checks = doctor(db, MLOPS_USER="zed")
    found = one(checks, "identity")
    assert found["status"] == "warn" and code == 0
    assert found["detail"] == (
        "zed (from MLOPS_USER) is not on the team and open_join is off: you can only read"
    )
    assert "`mlops user add zed`" in found["fix"]
    assert mlops(db, "doctor", "--strict", MLOPS_USER="zed").returncode == 1
    strict, _ = doctor(db, "--strict", MLOPS_USER="zed")  # --json and --strict together
    assert strict == 1
    assert (
        one(doctor(db)[1], "identity")["detail"] == "you are tester (maintainer, from MLOPS_USER)"
    )


def test_postgresql_warns_about_open_join_and_identity(pg_url: str) -> None:
    ok(pg_url, "init")
    code, checks = doctor(pg_url)
    risks = [c for c in checks if c["name"] == "shared database"]
    assert code == 0 and [c["status"] for c in risks] == ["warn", "warn"]
    assert risks[0]["detail"].startswith("identity is env: anyone who can connect")
    assert risks[0]["fix"].endswith("`mlops settings set identity database`")
    assert risks[1]["detail"].startswith("open_join is on: anyone who can connect")
    assert risks[1]["fix"].endswith("`mlops settings set open_join false`")
    assert mlops(pg_url, "doctor", "--strict").returncode == 1
    ok(pg_url, "settings", "set", "open_join", "false")
    risks = [c for c in doctor(pg_url)[1] if c["name"] == "shared database"]
    assert [r["detail"].split(":")[0] for r in risks] == ["identity is env"]


# -- tools -----------------------------------------------------------------------------------
def test_an_unreachable_docker_engine_is_a_warning(tmp_path: Path, db: str) -> None:
    started = time.monotonic()
    code, checks = doctor(db, DOCKER_HOST=f"unix://{tmp_path}/closed.sock")
    assert time.monotonic() - started < 20
    found = one(checks, "docker")
    assert found["status"] == "warn" and code == 0
    assert found["detail"].startswith("cannot reach the Docker engine")
    assert "DOCKER_HOST" in found["fix"]


def test_a_reachable_docker_engine_is_ok(docker_client: Any, tmp_path: Path) -> None:
    db = str(tmp_path / "mlops.db")
    ok(db, "init")
    found = one(doctor(db)[1], "docker")
    assert found["status"] == "ok" and found["detail"].startswith("engine ")


def test_git_missing_from_the_path_is_a_problem(tmp_path: Path) -> None:
    db = str(tmp_path / "mlops.db")
    ok(db, "init")
    (tmp_path / "bin").mkdir()
    code, checks = doctor(db, PATH=str(tmp_path / "bin"))
    assert code == 1 and one(checks, "git")["detail"] == "no git on PATH"
    assert "install Git" in one(checks, "git")["fix"]


# -- models' repositories --------------------------------------------------------------------
def test_each_repository_and_its_mlops_toml(tmp_path: Path) -> None:
    db = str(tmp_path / "mlops.db")
    ok(db, "init")
    good, broken = GitFixture(tmp_path / "good"), GitFixture(tmp_path / "broken")
    good.commit(**{"mlops.toml": '[test]\ncommand = ["pytest", "-q"]\n'})
    broken.commit(**{"mlops.toml": '[build]\ndockerfil = "Dockerfile"\n'})
    bare = GitFixture(tmp_path / "bare")  # no commit yet
    for name, repo in (
        ("good", good.path),
        ("broken", broken.path),
        ("gone", tmp_path / "gone"),
        ("bare", bare.path),
        ("far", "https://example.com/far.git"),
    ):
        ok(db, "model", "add", name, "--owner", "tester", "--repo", str(repo))
    ok(db, "model", "add", "loose", "--owner", "tester")
    code, checks = doctor(db)
    assert code == 1
    found = one(checks, "repo good")
    assert found["status"] == "ok" and found["detail"].endswith("mlops.toml is valid")
    found = one(checks, "repo broken")
    assert found["status"] == "problem" and "[build].dockerfil: unknown key" in found["detail"]
    assert found["fix"] == f"correct {broken.path}/mlops.toml and commit it"
    found = one(checks, "repo gone")
    assert found["status"] == "problem" and found["detail"].endswith("does not exist")
    assert "`mlops model set gone --repo PATH`" in found["fix"]
    assert one(checks, "repo bare")["status"] == "warn"
    found = one(checks, "repos")
    assert found["detail"] == "not checked: no repository for loose; a remote URL for far"


# -- webhooks --------------------------------------------------------------------------------
def test_webhooks_are_asked_and_never_sent_an_event(db: str) -> None:
    receiver = Receiver().start()
    try:
        closed = f"http://127.0.0.1:{free_port()}/hook"
        ok(db, "webhook", "add", closed)
        ok(db, "webhook", "add", receiver.url)
        events, attempts = history(db), ok(db, "webhook", "log", "--json")
        received = len(receiver.received)
        code, checks = doctor(db)
        assert code == 1
        dead, live = one(checks, "webhook #1"), one(checks, "webhook #2")
        assert dead["status"] == "problem" and dead["detail"].startswith(closed)
        assert "refused" in dead["detail"].lower() and "webhook remove 1" in dead["fix"]
        assert live["status"] == "ok" and live["detail"].startswith(f"{receiver.url} answers")
        assert len(receiver.received) == received  # a HEAD, never a POST
        assert history(db) == events and ok(db, "webhook", "log", "--json") == attempts
    finally:
        receiver.stop()


def test_each_mlflow_tracking_server_is_read_from_never_written(
    db: str, mlflow_local: str, mlflow_server
) -> None:
    from tests.mlflowstack import seed, unique

    seed(mlflow_local, "ranker", 1)
    ok(db, "mlflow", "import", "--tracking-uri", mlflow_local)
    kept = unique("kept")
    seed(mlflow_server.url, kept, 1)
    ok(db, "model", "add", "linked", "--owner", "tester")
    ok(
        db,
        "mlflow",
        "link",
        "linked",
        "--tracking-uri",
        mlflow_server.url,
        "--registered-model",
        kept,
    )
    ok(db, "record", "deploy", "ranker", "--version", "1")  # pushed at once: nothing waits
    events = history(db)
    registry = mlflow_local.removeprefix("sqlite:///")
    before = digest(registry)

    code, checks = doctor(db)
    local, served = (
        one(checks, f"MLflow {mlflow_local}"),
        one(checks, f"MLflow {mlflow_server.url}"),
    )
    assert local["status"] == "ok" and served["status"] == "ok", checks
    assert "the 1 linked registered models" in served["detail"]
    assert history(db) == events and digest(registry) == before

    os.rename(registry, registry + ".away")
    code, checks = doctor(db)
    gone = one(checks, f"MLflow {mlflow_local}")
    assert code == 1 and gone["status"] == "problem" and "does not exist" in gone["detail"]
    assert "mlflow link" in gone["fix"] and history(db) == events
