"""A real MLflow for tests: the tracking server (the full `mlflow` package, in its own venv at
/opt/mlflow-server or $MLOPS_MLFLOW_SERVER) on 127.0.0.1 and a free port, and local sqlite
registries made by mlflow-skinny (our `mlflow` extra); both seeded through MLflow's own
client, so what the adapter reads is what MLflow writes, not what we believe it writes.

A machine without them skips, but CI installs both, so there a missing one fails: a silently
skipped integration test would hide that nothing was checked.

Timing facts worth knowing (2 busy cores):
  - the server starts in 8-12 s, a restart on its database too (most of it is importing
    MLflow; the first start also migrates): one server serves the whole session, so each
    test names its models apart (`unique("churn")`);
  - a fresh local registry costs ~4 s of MLflow migrations, so one is migrated per session
    and each test gets a copy of the file (milliseconds);
  - `seed` makes 4 requests a version over REST (the run, its batch of params and metrics,
    its end, the version) plus a few a call: ~0.1 s and ~80 ms a version on the server,
    ~30 ms a version on sqlite.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Self

import pytest

START_TIMEOUT = 60.0  # a loaded 2-core machine imports MLflow and migrates in 10-30 s
STOP_TIMEOUT = 10.0
POLL = 0.1
DEFAULT_SERVER = "/opt/mlflow-server/bin/mlflow"
EXPERIMENT = "mlops-tests"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

# MLflow's client prints a "View run at" link on stdout for every run ended over REST, and
# would send usage telemetry: neither belongs in a test run.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def missing(why: str) -> NoReturn:
    """Skip, or under CI=true fail: CI installs everything these tests need."""
    if IN_CI:
        pytest.fail(f"{why}: required under CI=true")
    pytest.skip(why)


def find_mlflow_server() -> str | None:
    """The `mlflow` binary of the full package: $MLOPS_MLFLOW_SERVER, else the CI venv's."""
    path = os.environ.get("MLOPS_MLFLOW_SERVER") or DEFAULT_SERVER
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def have_mlflow_skinny() -> str | None:
    """None when mlflow (skinny is enough) and its SQL store's needs import, else why not."""
    try:
        import alembic  # noqa: F401
        import mlflow  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        return f"mlflow-skinny is not installed ({exc.name}): pip install -e '.[dev,mlflow]'"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def unique(prefix: str) -> str:
    """A registered model name no other test of the session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def commit_of(name: str, n: int) -> str:
    """The 40-hex commit `seed` tags version `n` of `name` with."""
    return hashlib.sha1(f"{name}#{n}".encode()).hexdigest()


_running: set[MlflowServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    """A backstop for a test run interrupted between start and stop."""
    for server in list(_running):
        server.stop()


class MlflowServer:
    """`mlflow server` on a sqlite database in `tmp`: started, health-checked, stopped (the
    whole process group: it forks a uvicorn worker) and started again on the same port and
    database, for tests of a registry that goes away and comes back."""

    def __init__(self, tmp: Path | str, binary: str | None = None) -> None:
        found = binary or find_mlflow_server()
        if found is None:
            missing(
                f"the MLflow server is not installed ({DEFAULT_SERVER}, or MLOPS_MLFLOW_SERVER)"
            )
        self.binary = found
        self.dir = Path(tmp) / f"mlflow-{os.urandom(3).hex()}"
        self.dir.mkdir(parents=True)
        self.db = self.dir / "mlflow.db"
        self.artifacts = self.dir / "artifacts"
        self.log_path = self.dir / "mlflow.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self.start_seconds: list[float] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _args(self) -> list[str]:
        # 127.0.0.1 is among the hosts its security middleware allows by default: no
        # --allowed-hosts or --disable-security-middleware needed
        return [
            self.binary,
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.db}",
            "--default-artifact-root",
            str(self.artifacts),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        """Start and wait until /health answers. The first start picks a free port (again,
        if another process took it before the server bound it); later ones reuse it."""
        if self.running:
            return self
        env = {
            **os.environ,
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        fresh = self.port == 0
        why: str | None = "was not started"
        for _ in range(3 if fresh else 1):
            if fresh:
                self.port = free_port()
            began = time.monotonic()
            with self.log_path.open("ab") as log:
                log.write(f"\n--- start on port {self.port}\n".encode())
                log.flush()
                self._process = subprocess.Popen(
                    self._args(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.dir,
                    env=env,
                    start_new_session=True,  # its own process group, killed whole on stop
                )
            _running.add(self)
            try:
                why = self._wait_ready(timeout)
            except BaseException:  # Ctrl+C while waiting
                self.stop()
                raise
            if why is None:
                self.start_seconds.append(time.monotonic() - began)
                return self
            self.stop()
            if "address already in use" not in self.log_tail(60).lower():
                break
        pytest.fail(f"mlflow server on {self.url} {why}; log {self.log_path}:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> str | None:
        """None once /health answers 200, else why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = None if self._process is None else self._process.poll()
            if code is not None:
                return f"exited with code {code} before it was ready"
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/health", timeout=2) as response,
            ):
                if response.status == 200:
                    return None
            time.sleep(POLL)
        return f"was not ready within {timeout:.0f} s"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to the process group, SIGKILL if it lingers; returns once the port is free
        again, so `start` can bind it at once."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        # the worker can outlive its parent: whatever is left of the group goes
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _listening(self.port):
            time.sleep(POLL)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- seeding, through MLflow's own client ------------------------------------------------


def client(uri: str) -> Any:
    """mlflow-skinny's MlflowClient for a server URL or a sqlite URI (MLflow caches the SQL
    stores per URI, so a client per call costs nothing after the first)."""
    why = have_mlflow_skinny()
    if why:
        missing(why)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's deprecations, on importing the store
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment(mlflow: Any) -> str:
    found = mlflow.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(mlflow.create_experiment(EXPERIMENT))
    except Exception:  # made meanwhile by another seeding: take that one
        found = mlflow.get_experiment_by_name(EXPERIMENT)
        if found is None:
            raise
        return str(found.experiment_id)


def _run(mlflow: Any, experiment: str, name: str, n: int, author: str, commit: bool) -> str:
    """One ended run for version `n`: params, metrics over three steps (so the final value is
    not the first or the best one), and the author and commit tags."""
    from mlflow.entities import Metric, Param

    tags = {"mlflow.user": author}
    if commit:
        tags["mlflow.source.git.commit"] = commit_of(name, n)
    run = mlflow.create_run(experiment, tags=tags, run_name=f"{name}-v{n}")
    run_id = str(run.info.run_id)
    now = int(time.time() * 1000)
    series = {
        "accuracy": [0.7, 0.8, round(0.9 + n / 100, 4)],
        "loss": [0.9, 0.2, round(0.5 - n / 100, 4)],
    }
    metrics = [
        Metric(key, value, now + step, step)
        for key, values in series.items()
        for step, value in enumerate(values)
    ]
    params = [Param("lr", f"0.0{n}"), Param("depth", str(n))]
    mlflow.log_batch(run_id, metrics=metrics, params=params)
    mlflow.set_terminated(run_id)
    return run_id


def _ensure_model(mlflow: Any, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        mlflow.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def _next_number(mlflow: Any, name: str) -> int:
    from mlops_tui.adapters.mlflow_registry import name_filter

    versions = mlflow.search_model_versions(name_filter(name)[0])
    return max((int(v.version) for v in versions if v.name == name), default=0) + 1


def seed(
    uri: str,
    name: str,
    versions: int,
    *,
    aliases: Mapping[str, int] | None = None,
    stage: Mapping[int, str] | None = None,
    author: str = "alice",
    description: str = "",
    tags: Mapping[str, str] | None = None,
    commit: bool = True,
    experiment: str | None = None,
) -> None:
    """Registered model `name` (made if missing) with `versions` more versions, each from its
    own run (see `_run`) with source runs:/<run_id>/model; then its description, tags,
    aliases (alias -> version number) and deprecated stages (version number -> stage)."""
    mlflow = client(uri)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated: MLflow says so each time
        experiment = experiment or _experiment(mlflow)
        _ensure_model(mlflow, name)
        first = _next_number(mlflow, name)
        for n in range(first, first + versions):
            run_id = _run(mlflow, experiment, name, n, author, commit)
            mlflow.create_model_version(
                name, f"runs:/{run_id}/model", run_id=run_id, await_creation_for=0
            )
        if description:
            mlflow.update_registered_model(name, description=description)
        for key, value in (tags or {}).items():
            mlflow.set_registered_model_tag(name, key, value)
        for alias, version in (aliases or {}).items():
            mlflow.set_registered_model_alias(name, alias, str(version))
        for version, to in (stage or {}).items():
            mlflow.transition_model_version_stage(name, str(version), to)


def add_version(
    uri: str,
    name: str,
    *,
    author: str = "alice",
    commit: bool = True,
    run: bool = True,
    source: str = "s3://models/no-run",
) -> str:
    """One more version of `name` (made if missing), from a new run like `seed`'s, or with
    `run=False` from `source` without any run. Returns its version."""
    mlflow = client(uri)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ensure_model(mlflow, name)
        if not run:
            made = mlflow.create_model_version(name, source, await_creation_for=0)
            return str(made.version)
        n = _next_number(mlflow, name)
        run_id = _run(mlflow, _experiment(mlflow), name, n, author, commit)
        made = mlflow.create_model_version(
            name, f"runs:/{run_id}/model", run_id=run_id, await_creation_for=0
        )
        return str(made.version)


def move_alias(uri: str, name: str, alias: str, version: int | str) -> None:
    """Point `alias` of `name` at `version`, as a teammate in MLflow's UI would."""
    client(uri).set_registered_model_alias(name, alias, str(version))


def delete_run(uri: str, run_id: str) -> None:
    """Delete a run (MLflow's soft delete: runs/get still answers, marked deleted)."""
    client(uri).delete_run(run_id)


def new_local_registry(path: Path) -> str:
    """A fresh, migrated MLflow registry in the sqlite file `path`; its URI."""
    uri = f"sqlite:///{path}"
    mlflow = client(uri)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.search_experiments(max_results=1)  # opens the tracking store: migrates
        mlflow.search_registered_models(max_results=1)  # and the registry store
    return uri


# -- fixtures (imported by a conftest) -----------------------------------------------------


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One MLflow tracking server for the session: tests name their models apart."""
    why = have_mlflow_skinny()
    if why:  # nothing could seed it
        missing(why)
    with MlflowServer(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


_template: list[Path] = []


def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty local registry made once a session, copied for each test (a plain
    cache rather than a session fixture, so that a conftest imports two fixtures, not three)."""
    if not _template:
        why = have_mlflow_skinny()
        if why:
            missing(why)
        path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
        new_local_registry(path)
        _template.append(path)
    return _template[0]


@pytest.fixture
def mlflow_local(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> str:
    """The sqlite:////ABS/PATH URI of a fresh local MLflow registry of this test's own."""
    template = _migrated_template(tmp_path_factory)
    path = tmp_path / "mlflow-local" / "mlflow.db"
    path.parent.mkdir()
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"
