"""Fixtures: every store and service test runs on both backends, against real servers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from mlops_tui.services.context import Context
from mlops_tui.store import Store, open_store
from tests import pg

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> str:
    url, why = pg.ensure_server()
    if url is None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {why}")
        pytest.skip(why)
    return url


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Never touch the real user's data or config folders; act as a known user."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("MLOPS_USER", "tester")
    monkeypatch.delenv("MLOPS_DB", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def new_pg_schema(server: str) -> tuple[str, str]:
    """A fresh schema on the test database, and a URL whose connections use it."""
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in server else "?"
    return schema, f"{server}{sep}options={quote(f'-csearch_path={schema}')}"


def drop_pg_schema(server: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A URL for an empty PostgreSQL database (a schema of its own)."""
    schema, url = new_pg_schema(pg_server)
    try:
        yield url
    finally:
        drop_pg_schema(pg_server, schema)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A URL for an empty database of each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "mlops.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def ctx(store: Store) -> Context:
    return Context(store, "alice")


def known(ctx: Context, *names: str, role: str = "maintainer") -> None:
    """Put people on the team before a test names them as an owner, a backup or a receiver:
    nobody can be made responsible without existing. Added by `ctx`'s actor."""
    from mlops_tui.services import team

    for name in names:
        if ctx.store.get_user(name) is None:
            team.add_user(ctx, name, role=role)


def raw_execute(url: str, sql: str) -> None:
    """Run SQL behind the tool's back, as someone with a database shell would."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)
    else:
        conn = sqlite3.connect(url)
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()


@pytest.fixture(scope="session")
def docker_client():
    from tests import engine

    client, why = engine.ensure_engine()
    if client is None:
        if IN_CI:
            pytest.fail(f"Docker is required under CI=true: {why}")
        pytest.skip(why)
    return client


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    from tests import engine

    image = engine.ensure_base_image(docker_client)
    if image is None:
        if IN_CI:
            pytest.fail("busybox (Debian's busybox-static) is required under CI=true")
        pytest.skip("busybox is not installed")
    return image


class GitFixture:
    """A working copy with a bare remote, both in a temporary folder."""

    def __init__(self, root) -> None:
        import git

        self.root = root
        self.remote = git.Repo.init(root / "remote.git", bare=True, initial_branch="main")
        self.path = root / "work"
        self.repo = git.Repo.clone_from(str(root / "remote.git"), str(self.path))
        with self.repo.config_writer() as cfg:
            cfg.set_value("user", "name", "Tester")
            cfg.set_value("user", "email", "tester@example.com")
        self.repo.git.checkout("-b", "main")

    def write(self, name: str, text: str) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def commit(self, message: str = "change", **files: str) -> str:
        for name, text in files.items():
            self.write(name.replace("__", "/"), text)
        self.repo.git.add("--all")
        self.repo.git.commit("-m", message)
        return self.repo.head.commit.hexsha


@pytest.fixture
def gitrepo(tmp_path) -> GitFixture:
    return GitFixture(tmp_path)


def _sigint_default() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interruptible(args: list[str], **kwargs):
    """A process the test stops with Ctrl+C (SIGINT), as a person would. A process started
    from a background job inherits SIGINT ignored (a shell's `cmd &`, nohup), and Python
    then never raises KeyboardInterrupt; a terminal's Ctrl+C always reaches the program."""
    import subprocess

    return subprocess.Popen(args, preexec_fn=_sigint_default, **kwargs)


def both_ways(script: str, ways: tuple[str, str], *argv: str) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of `python -c script WAY ARGV…` for each of two ways of
    doing the same thing, for a test to compare."""
    outputs = []
    for way in ways:
        result = subprocess.run(
            [sys.executable, "-c", script, way, *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        outputs.append((result.returncode, result.stdout, result.stderr))
    return outputs


# -- MLflow: a real tracking server and local registries (tests/mlflowstack.py) -----------
from tests.mlflowstack import mlflow_local, mlflow_server  # noqa: E402, F401 - fixtures


@pytest.fixture
def mlflow_private(tmp_path):
    """An MLflow server of this test's own, for a test that stops and starts it."""
    from tests.mlflowstack import MlflowServer

    with MlflowServer(tmp_path) as server:
        yield server
