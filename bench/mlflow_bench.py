"""`mlops mlflow import` of a large MLflow registry over REST: figures for the bench.

A real `mlflow server` (the full package, tests/mlflowstack.py finds it) serves a registry of
`models` registered models with `versions` versions each, every version from its own run with
params, metrics and tags, as a team's registry holds them. Measured:

- reading it over REST in this process, as the import does before it writes anything:
  `open_registry`, the registered models, each one's versions and every version's run;
- `mlops mlflow import --tracking-uri URL` run as a real process into a fresh, empty mlops
  database (SQLite, and PostgreSQL when a server answers): wall time, and the events it wrote
  per second of it;
- the same import again right after, which finds nothing new and writes nothing: what a
  cron job re-running it pays.

Seeding 5,000 versions through MLflow's client takes minutes of MLflow's own CPU, so it is
done once, straight into a sqlite tracking database (no HTTP between), in a child process
that keeps MLflow's imports and its SQLAlchemy settings out of this one; the file is cached
outside the repository, keyed by what shaped it, and each measurement serves a copy.

    .venv/bin/python -m bench.mlflow_bench [--models 500] [--versions 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import inspect
import logging
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlops_tui.store import open_store

ROOT = Path(__file__).resolve().parent.parent
#: the full run and `--quick`'s: registered models, versions of each
FULL = (500, 10)
QUICK = (50, 4)
RUNS = 3
PREFIX = "bench-model"
AUTHORS = ("alice", "bob", "carol")
#: figure -> unit, for bench/run.py's table
READ = "mlflow: read the registry over REST"
IMPORT = "mlflow import, fresh database"
RATE = "mlflow import, events written"
AGAIN = "mlflow import again, nothing new"
UNITS = {READ: "ms", IMPORT: "ms", RATE: "events/s", AGAIN: "ms"}
#: where the registry's figure goes in the table: it does not depend on the mlops backend
REST = "REST"
IMPORTED = re.compile(r"imported (\d+) models from \S+ \((\d+) events\)")


class ImportFailed(RuntimeError):
    """`mlops mlflow import` exited with an error: worth another try (see RETRIES)."""


def note(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def unavailable() -> str | None:
    """Why the MLflow figures cannot be made here, or None when they can."""
    from tests import mlflowstack

    if mlflowstack.find_mlflow_server() is None:
        return f"no MLflow server at {mlflowstack.DEFAULT_SERVER} (or $MLOPS_MLFLOW_SERVER)"
    return mlflowstack.have_mlflow_skinny()


# -- the registry, seeded once ---------------------------------------------------------------
def model_name(i: int) -> str:
    return f"{PREFIX}-{i:05d}"


def cache_dir() -> Path:
    """$MLOPS_BENCH_CACHE, else the user's cache directory: a seeded registry outlives the
    checkout and `git clean`, and is never committed."""
    found = os.environ.get("MLOPS_BENCH_CACHE")
    if found:
        return Path(found)
    import platformdirs

    return Path(platformdirs.user_cache_dir("mlops-tui-bench")) / "mlflow"


def cached_path(models: int, versions: int) -> Path:
    """Where the registry of that shape is cached. The key holds MLflow's version, since a
    server refuses a database another release migrated, and a digest of the seeding code,
    so that a change to what is seeded is never measured against a stale registry."""
    from tests import mlflowstack

    mlflow = importlib.metadata.version("mlflow-skinny")
    code = "".join(inspect.getsource(f) for f in (_seed_into, mlflowstack.seed, mlflowstack._run))
    digest = hashlib.sha256(code.encode()).hexdigest()[:10]
    return cache_dir() / f"registry-{models}x{versions}-mlflow{mlflow}-{digest}.db"


def _seed_into(path: str, models: int, versions: int) -> None:
    """Seed a fresh sqlite tracking database at `path` (in a spawned child: see the module's
    docstring). Each model gets its versions from runs by one of a few authors; three in four
    carry @production on their next-to-last version, so most come in deployed and watched,
    the others waiting in test. Durability is off: the file is cached only once complete."""
    import mlflow  # noqa: F401  (configures its loggers: quieted below, before it logs)
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    for name in ("mlflow", "alembic"):  # the migrations' INFO lines say nothing here
        logging.getLogger(name).setLevel(logging.WARNING)

    @event.listens_for(Engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA journal_mode=MEMORY")  # for this connection only: not kept
        cursor.close()

    from tests import mlflowstack

    uri = mlflowstack.new_local_registry(Path(path))
    for i in range(models):
        aliases = {"production": max(versions - 1, 1)} if i % 4 != 3 else {}
        mlflowstack.seed(
            uri,
            model_name(i),
            versions,
            aliases=aliases,
            author=AUTHORS[i % len(AUTHORS)],
            description=f"Benchmark model {i}: a registry of {models} like it.",
        )


def cached_registry(models: int, versions: int) -> Path:
    """The seeded registry's file, seeding it first when the cache has none (and saying how
    long that took). Written aside and renamed, so an interrupted seeding caches nothing."""
    path = cached_path(models, versions)
    if path.is_file():
        note(f"MLflow registry of {models:,} models x {versions} versions: cached, {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    note(f"seeding an MLflow registry of {models:,} models x {versions} versions into {path}")
    started = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(
        target=_seed_into, args=(str(partial), models, versions)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"seeding the MLflow registry failed (exit code {child.exitcode})")
    os.replace(partial, path)
    note(
        f"seeded {models:,} models x {versions} versions ({models * versions:,} runs) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return path


@contextlib.contextmanager
def serving(registry: Path, tmp: Path) -> Iterator[str]:
    """A real `mlflow server` on a copy of `registry` (the cached file stays as seeded);
    its URL. MLflowServer reports a failure the way a test does: here it is an error."""
    import pytest

    from tests.mlflowstack import MlflowServer

    server = MlflowServer(tmp)
    shutil.copyfile(registry, server.db)
    try:
        server.start()
    except pytest.fail.Exception as exc:
        raise RuntimeError(str(exc)) from None
    try:
        note(f"mlflow server on {server.url} ready in {server.start_seconds[-1]:.1f} s")
        yield server.url
    finally:
        server.stop()


# -- the figures -----------------------------------------------------------------------------
@dataclass
class Read:
    """One read of the whole registry over REST, in seconds per part."""

    models: int
    versions: int
    runs: int
    list_s: float
    versions_s: float
    runs_s: float

    @property
    def total_ms(self) -> float:
        return (self.list_s + self.versions_s + self.runs_s) * 1000


def read_registry(url: str) -> Read:
    """What the import reads before it writes, the way it reads it: the adapter's calls."""
    from mlops_tui.adapters.mlflow_registry import open_registry

    began = time.perf_counter()
    with open_registry(url) as registry:
        found = registry.registered_models()
        listed = time.perf_counter()
        every = registry.all_versions([m.name for m in found])
        versions = [v for found_versions in every.values() for v in found_versions]
        versioned = time.perf_counter()
        runs = registry.runs(v.run_id for v in versions if v.run_id)
        done = time.perf_counter()
    return Read(
        len(found), len(versions), len(runs), listed - began, versioned - listed, done - versioned
    )


def mlops_import(url: str, db: str) -> tuple[float, int, int]:
    """`mlops mlflow import` as a person runs it: wall ms, models changed and events written,
    as it says on stderr."""
    env = {**os.environ, "MLOPS_DB": db, "NO_COLOR": "1", "MLOPS_USER": "bench"}
    mlops = str(Path(sys.executable).with_name("mlops"))
    started = time.perf_counter()
    done = subprocess.run(
        [mlops, "mlflow", "import", "--tracking-uri", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        check=False,
    )
    elapsed = (time.perf_counter() - started) * 1000
    said = done.stderr.decode(errors="replace")
    found = IMPORTED.search(said)
    if done.returncode or found is None:
        raise ImportFailed(f"exit code {done.returncode}: {said.strip()}")
    return elapsed, int(found.group(1)), int(found.group(2))


def import_figures(url: str, db: str, models: int, backend: str) -> dict[str, float]:
    """One import into `db` (empty, its schema made) and one again after it."""
    ms, changed, events = mlops_import(url, db)
    if changed != models or not events:
        raise RuntimeError(f"the import brought {changed} models ({events} events), not {models}")
    with open_store(db) as store:
        head = store.head()
    again_ms, changed_again, events_again = mlops_import(url, db)
    if changed_again or events_again:
        raise RuntimeError(f"importing again wrote {events_again} events")
    note(
        f"{backend}: imported {changed:,} models, {events:,} events in {ms / 1000:.2f} s "
        f"(history head {head:,}); again, nothing new: {again_ms / 1000:.2f} s"
    )
    return {IMPORT: ms, RATE: events / (ms / 1000), AGAIN: again_ms}


def figures(
    models: int,
    versions: int,
    *,
    runs: int = RUNS,
    pg_server: str | None = None,
) -> list[tuple[str, str, list[float]]]:
    """(figure, backend, samples) for a registry of `models` x `versions`: the REST read
    `runs` times, then on each backend `runs` imports, each into a fresh database, each
    followed by the import again. The reads come first and warm the server's page cache."""
    from bench.run import drop_pg, fresh_pg

    registry = cached_registry(models, versions)
    backends = ["sqlite", *(["postgresql"] if pg_server else [])]
    out: list[tuple[str, str, list[float]]] = []
    with (
        tempfile.TemporaryDirectory(prefix="mlops-mlflow-bench-") as tmp,
        serving(registry, Path(tmp)) as url,
    ):
        reads = [read_registry(url) for _ in range(runs)]
        first = reads[0]
        seeded = (models, models * versions, models * versions)  # a run for each version
        if (first.models, first.versions, first.runs) != seeded:
            raise RuntimeError(
                f"the registry holds {first.models} models, {first.versions} versions, "
                f"{first.runs} runs: not what was seeded"
            )
        middle = sorted(reads, key=lambda r: r.total_ms)[len(reads) // 2]
        note(
            f"REST read: {middle.total_ms / 1000:.2f} s = models "
            f"{middle.list_s * 1000:.0f} ms + versions {middle.versions_s:.2f} s "
            f"({first.versions:,} of {models:,} models) + runs {middle.runs_s:.2f} s "
            f"({first.runs:,})"
        )
        out.append((READ, REST, [r.total_ms for r in reads]))
        for backend in backends:
            samples: dict[str, list[float]] = {IMPORT: [], RATE: [], AGAIN: []}
            for attempt in range(runs):
                schema = f"bench_mlflow_{attempt}"
                if backend == "sqlite":
                    db = str(Path(tmp) / f"import-{attempt}.db")
                else:
                    assert pg_server is not None
                    db = fresh_pg(pg_server, schema)
                try:  # a failed import is the bench's failure: no figure hides it
                    with open_store(db):  # the schema, made before the clock starts
                        pass
                    for figure, value in import_figures(url, db, models, backend).items():
                        samples[figure].append(value)
                finally:
                    if backend == "postgresql":
                        assert pg_server is not None
                        drop_pg(pg_server, schema)
            out += [(figure, backend, values) for figure, values in samples.items()]
    return out


def main() -> None:
    from bench.run import pg_server

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=FULL[0])
    parser.add_argument("--versions", type=int, default=FULL[1])
    parser.add_argument("--runs", type=int, default=RUNS, help="reads and imports of each")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    why = unavailable()
    if why:
        note(f"MLflow import: skipped ({why})")
        return
    # Python reads .pyc files even where PYTHONDONTWRITEBYTECODE is set: without them every
    # `mlops` run would compile its modules again, which users do not pay.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "mlops_tui")], check=True)
    server = None if args.no_postgres else pg_server()
    load_before = os.getloadavg()[0]
    rows = figures(args.models, args.versions, runs=args.runs, pg_server=server)
    print(
        f"\n{args.models:,} registered models x {args.versions} versions over REST; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print("| figure | backend | median | min | max | runs |\n|---|---|---:|---:|---:|---:|")
    for figure, backend, samples in rows:
        unit = UNITS[figure]
        med = statistics.median(samples)
        print(
            f"| {figure} | {backend} | {med:,.0f} {unit} | {min(samples):,.0f} | "
            f"{max(samples):,.0f} | {len(samples)} |"
        )


if __name__ == "__main__":
    main()
