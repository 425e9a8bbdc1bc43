"""`make bench`: seed databases of several sizes and measure what people feel all day.

For each backend (SQLite, and PostgreSQL when a server answers) and each size (1,000 and
10,000 models with 20 events each, so 200,000 events at full size):

- `mlops status` (the table), `mlops status --at 7d` (the team a week before the seeded
  history ends), `mlops status NAME`, `mlops status --json` and `mlops history NAME`, each
  run as a real process N times;
- the single-process write rate: moves per second through the services, as `mlops move`
  and the TUI make them (one transaction each, gates checked);
- the 8-writer write rate: the same moves from 8 OS processes at once, each on models of its
  own, so they contend only for the database and the audit chain's serialisation;
- on SQLite, the TUI: first paint of the models table, one filter keystroke (CPU) and peak
  memory (bench/tui_bench.py, each run in its own process);
- `mlops serve` (bench/serve_bench.py): rendering /metrics server-side, a first scrape and
  one after a model moved; at the largest size, 200 Alertmanager notifications a second
  for 10 s to a real server, with each request's latency (median, and p99) and the rate.

Then `mlops mlflow import` (bench/mlflow_bench.py) of 500 registered models with 10 versions
each from a real `mlflow server`, over REST, into a fresh database of each backend: its wall
time and events written per second, the same import again (nothing new), and how long
reading the registry over REST takes on its own. Skipped when no MLflow server is installed.

Every figure is a median with its spread (p10 to p90; min to max for the TUI's few runs),
and its growth from the smallest to the largest size. Prints a Markdown table for the
README and writes bench/results/latest.json. `--quick` is a small, fast run.

Budgets, at 10,000 models on SQLite: `mlops status` 150 ms, `--at 7d` 300 ms, one model
100 ms; TUI first paint 1.5 s, filter keystroke 100 ms, memory 300 MB; a /metrics scrape
after a change 100 ms (on PostgreSQL too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import mlflow_bench, serve_bench, tui_bench
from bench.generate import seed
from mlops_tui.store import open_store

NAME = "churn-00000"
#: `--at 7d` as the seeded team's clock reads it (its history ends at tui_bench.NOW)
WEEK_AGO = (tui_bench.NOW - timedelta(days=7)).isoformat()
COMMANDS = [
    ("mlops status", ["status"], "ms"),
    ("mlops status --at 7d", ["status", "--at", WEEK_AGO], "ms"),
    ("mlops status NAME", ["status", NAME], "ms"),
    ("mlops status --json", ["status", "--json"], "ms"),
    ("mlops history NAME", ["history", NAME], "ms"),
]
#: a team's status on PostgreSQL against one person's on SQLite, same models and events
RATIO = "mlops status, PostgreSQL ÷ SQLite"
# (figure, backend) -> budget, checked at BUDGET_SIZE models (or BUDGET_SIZES').
BUDGETS = {
    ("mlops status", "sqlite"): 150,
    ("mlops status NAME", "sqlite"): 100,
    ("mlops status --at 7d", "sqlite"): 300,
    ("TUI first paint", "sqlite"): 1500,
    ("TUI filter keystroke (CPU)", "sqlite"): 100,
    ("TUI peak memory", "sqlite"): 300,
    ("TUI shows another's change", "postgresql"): 300,
    (RATIO, "both"): 1.3,
    ("serve: /metrics render, one model changed", "sqlite"): 100,
    ("serve: /metrics render, one model changed", "postgresql"): 100,
}
BUDGET_SIZE = 10_000
#: where a budget is checked at another size than BUDGET_SIZE
BUDGET_SIZES = {(RATIO, "both"): 2_000}


def stats(samples: list[float]) -> dict[str, Any]:
    """Median and spread: p10 to p90 when there are enough samples, else min to max."""
    s = sorted(samples)
    if len(s) >= 5:
        q = statistics.quantiles(s, n=10, method="inclusive")
        lo, hi = q[0], q[-1]
    else:
        lo, hi = s[0], s[-1]
    return {
        "median": statistics.median(s),
        "low": lo,
        "high": hi,
        "min": s[0],
        "max": s[-1],
        "runs": len(s),
        "spread": "p10-p90" if len(s) >= 5 else "min-max",
    }


def time_command(db: str, args: list[str], runs: int) -> list[float]:
    """Wall ms of `mlops ARGS` run to completion; the first run only warms the page cache."""
    env = {**os.environ, "MLOPS_DB": db, "NO_COLOR": "1", "MLOPS_USER": "bench"}
    mlops = str(Path(sys.executable).with_name("mlops"))
    samples = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(
            [mlops, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
        )
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode:
            raise SystemExit(f"mlops {' '.join(args)} failed: {done.stderr.decode()}")
        if i:
            samples.append(elapsed)
    return samples


def _move_each(ctx: Any, names: list[str]) -> None:
    """One move of each model to its next stage, gates skipped with a note (no evidence is
    recorded in a benchmark), each its own transaction as `mlops move` makes it."""
    from mlops_tui.domain import Stage
    from mlops_tui.services import lifecycle

    gated = (Stage.TEST, Stage.DEPLOY, Stage.MONITOR)
    for name in names:
        target = ctx.store.get_model(name).stage.next()
        force = target in gated
        note = "bench: gate skipped" if force else None
        lifecycle.move(ctx, name, target, note=note, force=force)


def write_rate(db: str, moves: int, batches: int = 5) -> list[float]:
    """Moves per second in one process, per batch: each move is its own transaction with
    its event, its rule and gate checks, exactly as `mlops move` makes it."""
    from mlops_tui.services.context import Context

    rates = []
    with open_store(db) as store:
        ctx = Context(store, "bench")
        names = [r.name for r in store.status_rows()][: max(moves // batches, 1)]
        for _ in range(batches):
            start = time.perf_counter()
            _move_each(ctx, names)
            rates.append(len(names) / (time.perf_counter() - start))
    return rates


WRITERS = 8
BARRIER_TIMEOUT_S = 120  # a batch of a few hundred moves; far more means a writer is stuck


def _writer(db: str, names: list[str], batches: int, start: Any, done: Any) -> None:
    """One of the concurrent writers, in its own process: for each batch, wait for the
    others, move each of its own models once, and say it is done."""
    from mlops_tui.services.context import Context

    try:
        with open_store(db) as store:
            ctx = Context(store, f"bench-{os.getpid()}")
            for _ in range(batches):
                start.wait(BARRIER_TIMEOUT_S)
                _move_each(ctx, names)
                done.wait(BARRIER_TIMEOUT_S)
    except BaseException:
        start.abort()  # the others and the parent stop waiting for this one at once
        done.abort()
        raise


def concurrent_write_rate(
    db: str, moves: int, batches: int = 5, writers: int = WRITERS
) -> list[float]:
    """Moves per second of `writers` OS processes together, per batch (`moves` in all, split
    evenly): each writer moves models nobody else touches, so what they wait for is the
    database's write lock (SQLite) or the audit chain's lock (PostgreSQL), not each other's
    rows. A batch is timed from the moment all writers are ready to the moment the last one
    is done; connecting and importing are not counted."""
    import multiprocessing

    mp = multiprocessing.get_context("spawn")  # real, separate interpreters, as users run
    with open_store(db) as store:
        names = [r.name for r in store.status_rows()]
    per_writer = max(moves // writers, 1)
    if len(names) < per_writer * writers:
        raise SystemExit(f"the 8-writer rate needs {per_writer * writers} models")
    start, done = mp.Barrier(writers + 1), mp.Barrier(writers + 1)
    procs = [
        mp.Process(
            target=_writer,
            args=(db, names[i * per_writer : (i + 1) * per_writer], batches, start, done),
        )
        for i in range(writers)
    ]
    for p in procs:
        p.start()
    rates = []
    try:
        for _ in range(batches):
            start.wait(BARRIER_TIMEOUT_S)
            began = time.perf_counter()
            done.wait(BARRIER_TIMEOUT_S)
            rates.append(per_writer * writers / (time.perf_counter() - began))
    except threading.BrokenBarrierError:
        start.abort()
        done.abort()
        raise SystemExit(
            "a concurrent writer failed or got stuck (see its traceback above)"
        ) from None
    finally:
        for p in procs:
            p.join(BARRIER_TIMEOUT_S)
            if p.is_alive():
                p.kill()
                p.join(10)
    return rates


def tui_figures(db: str, models: int, runs: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        "TUI first paint": [],
        "TUI filter keystroke (CPU)": [],
        "TUI peak memory": [],
    }
    for _ in range(runs):
        r = tui_bench.run("app", db, models)
        out["TUI first paint"].append(r["first_paint_s"] * 1000)
        out["TUI filter keystroke (CPU)"].append(r["key_median_ms"])
        out["TUI peak memory"].append(r["peak_rss_mb"])
    return out


CHANGE_SAMPLES = 8


def change_latency(db: str, samples: int = CHANGE_SAMPLES) -> list[float]:
    """Milliseconds from another connection's commit until the TUI, polling every second as
    it does, holds the change: PostgreSQL's notice wakes it at once, SQLite waits for the
    poll (so about half a second on average)."""
    import asyncio
    import random

    from mlops_tui.services.context import Context
    from mlops_tui.tui.app import MlopsApp

    async def measure() -> list[float]:
        app = MlopsApp(db, actor="bench", clock=lambda: tui_bench.NOW)
        out: list[float] = []
        async with app.run_test(size=tui_bench.SIZE):
            while app.snapshot is None:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.5)  # the listener is up
            with open_store(db) as other:
                ctx = Context(other, "bench-teammate")
                name = other.status_rows()[0].name
                for _ in range(samples):
                    await asyncio.sleep(random.uniform(0.2, 1.2))  # any phase of the poll
                    _move_each(ctx, [name])
                    head, start = other.head(), time.perf_counter()
                    while app.snapshot is None or app.snapshot.head < head:
                        if time.perf_counter() - start > 10:
                            raise RuntimeError("the TUI never showed the change")
                        await asyncio.sleep(0.002)
                    out.append((time.perf_counter() - start) * 1000)
        return out

    return asyncio.run(measure())


UNITS = {
    "TUI peak memory": "MB",
    "single-process write rate": "moves/s",
    "8-writer write rate": "moves/s",
}


def pg_server() -> str | None:
    url = os.environ.get("MLOPS_BENCH_PG_URL")
    if url:
        return url
    try:
        from tests import pg

        found, _ = pg.ensure_server()
        return found
    except Exception:
        return None


def fresh_pg(server: str, name: str) -> str:
    from urllib.parse import quote

    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}options={quote(f'-csearch_path={name}')}"


def drop_pg(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"x{value:.2f}"
    if unit == "ms" and value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:,.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"


def cell(r: dict[str, Any]) -> str:
    unit = r["unit"]
    if unit == "x":  # a ratio of two medians: the spreads are in their own rows
        return fmt(r["median"], unit)
    lo, hi = (
        (f"{r['low']:,.0f}", f"{r['high']:,.0f}")
        if unit != "ms" or r["high"] < 1000
        else (
            f"{r['low'] / 1000:.2f}",
            f"{r['high'] / 1000:.2f}",
        )
    )
    return f"{fmt(r['median'], unit)} ({lo} to {hi})"


def table(results: list[dict[str, Any]], sizes: list[int]) -> str:
    rows = {}
    for r in results:
        rows.setdefault((r["figure"], r["backend"]), {})[r["models"]] = r
    head = "| figure | backend | " + " | ".join(f"{s:,} models" for s in sizes)
    lines = [head + " | growth | budget |", "|---|---|" + "---:|" * (len(sizes) + 2)]
    for (figure, backend), by_size in rows.items():
        cells = [cell(by_size[s]) if s in by_size else "" for s in sizes]
        first, last = by_size.get(sizes[0]), by_size.get(sizes[-1])
        growth = (
            f"x{last['median'] / first['median']:.1f}"
            if first and last and first is not last
            else ""
        )
        budget = ""
        if (figure, backend) in BUDGETS:
            b = BUDGETS[(figure, backend)]
            unit = last["unit"] if last else "ms"
            budget = fmt(b, unit)
            checked = by_size.get(BUDGET_SIZES.get((figure, backend), BUDGET_SIZE))
            if checked:
                budget += " ✓" if checked["median"] <= b else " **missed**"
        lines.append(f"| {figure} | {backend} | " + " | ".join(cells) + f" | {growth} | {budget} |")
    return "\n".join(lines)


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`mlops status` on PostgreSQL over SQLite at each size both ran: the medians' ratio."""
    status = {(r["backend"], r["models"]): r for r in results if r["figure"] == "mlops status"}
    out = []
    for (backend, size), pg in status.items():
        lite = status.get(("sqlite", size))
        if backend != "postgresql" or lite is None:
            continue
        ratio = pg["median"] / lite["median"]
        out.append({**pg, **stats([ratio]), "figure": RATIO, "backend": "both", "unit": "x"})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", help="model counts, comma-separated (default 1000,2000,10000)")
    parser.add_argument("--events-per-model", type=int, default=20)
    parser.add_argument("--runs", type=int, help="runs per command (default 15; quick 5)")
    parser.add_argument("--tui-runs", type=int, help="TUI runs per size (default 3; quick 1)")
    parser.add_argument("--moves", type=int, help="moves per write-rate run (default 500)")
    parser.add_argument("--quick", action="store_true", help="500 and 2,000 models, few runs")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-tui", action="store_true")
    parser.add_argument("--no-serve", action="store_true", help="skip mlops serve's load")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow import")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "latest.json"))
    args = parser.parse_args()
    sizes = [
        int(s) for s in (args.sizes or ("500,2000" if args.quick else "1000,2000,10000")).split(",")
    ]
    runs = args.runs or (5 if args.quick else 15)
    tui_runs = args.tui_runs or (1 if args.quick else 3)
    moves = args.moves or (100 if args.quick else 500)
    backends = ["sqlite"]
    server = None if args.no_postgres else pg_server()
    if server:
        backends.append("postgresql")
    # Python reads .pyc files even where PYTHONDONTWRITEBYTECODE is set: without them every
    # `mlops` run would compile its modules again (+25 ms), which users do not pay.
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "mlops_tui")], check=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    results: list[dict[str, Any]] = []

    def add(figure: str, backend: str, size: int, samples: list[float], unit: str) -> None:
        results.append(
            {
                "figure": figure,
                "backend": backend,
                "models": size,
                "events": size * args.events_per_model,
                "unit": unit,
                **stats(samples),
            }
        )

    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            for size in sizes:
                events = size * args.events_per_model
                schema = f"bench_{size}"
                db = (
                    str(Path(tmp) / f"bench-{size}.db")
                    if backend == "sqlite"
                    else fresh_pg(server, schema)
                )
                t = time.perf_counter()
                with open_store(db) as store:
                    seed(store, size, events, now=tui_bench.NOW)
                print(
                    f"# {backend}: seeded {size:,} models, {events:,} events "
                    f"in {time.perf_counter() - t:.1f} s",
                    file=sys.stderr,
                )
                for figure, argv, unit in COMMANDS:
                    add(figure, backend, size, time_command(db, argv, runs), unit)
                if backend == "sqlite" and not args.no_tui:
                    for figure, samples in tui_figures(db, size, tui_runs).items():
                        add(figure, backend, size, samples, UNITS.get(figure, "ms"))
                if not args.no_tui:
                    latency = change_latency(db)
                    add("TUI shows another's change", backend, size, latency, "ms")
                add("single-process write rate", backend, size, write_rate(db, moves), "moves/s")
                rate = concurrent_write_rate(db, moves)
                add("8-writer write rate", backend, size, rate, "moves/s")
                for figure, samples in serve_bench.scrape_figures(db, runs).items():
                    add(figure, backend, size, samples, serve_bench.UNITS[figure])
                if size == sizes[-1] and not args.no_serve:
                    load = serve_bench.load_figures(db, seconds=10, rate=200)
                    for figure, samples in load.items():
                        add(figure, backend, size, samples, serve_bench.UNITS[figure])
                    p99 = serve_bench.percentile(load["serve: Alertmanager hook latency"], 99)
                    add("serve: Alertmanager hook latency, p99", backend, size, [p99], "ms")
                if backend == "postgresql":
                    drop_pg(server, schema)
    mlflow_models, mlflow_versions = mlflow_bench.QUICK if args.quick else mlflow_bench.FULL
    mlflow_results: list[dict[str, Any]] = []
    skip_mlflow = "--no-mlflow" if args.no_mlflow else mlflow_bench.unavailable()
    if skip_mlflow:
        print(f"# MLflow import: skipped ({skip_mlflow})", file=sys.stderr)
    else:
        for figure, backend, samples in mlflow_bench.figures(
            mlflow_models, mlflow_versions, pg_server=server
        ):
            mlflow_results.append(
                {
                    "figure": figure,
                    "backend": backend,
                    "models": mlflow_models,
                    "versions": mlflow_versions,
                    "unit": mlflow_bench.UNITS[figure],
                    **stats(samples),
                }
            )
    results += ratios(results)
    load_after = os.getloadavg()
    text = table(results, sizes)
    header = (
        f"{platform.python_version()} on {os.cpu_count()} cores, "
        f"{args.events_per_model} events per model; median (p10 to p90 over {runs} runs; "
        f"TUI: min to max over {tui_runs}); load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; {datetime.now(UTC):%Y-%m-%d}"
    )
    print(f"\n{header}\n\n{text}")
    mlflow_text = table(mlflow_results, [mlflow_models]) if mlflow_results else None
    if mlflow_text:
        print(
            f"\nMLflow import over REST, {mlflow_models:,} registered models x "
            f"{mlflow_versions} versions: median (min to max over {mlflow_bench.RUNS} runs)"
            f"\n\n{mlflow_text}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "cores": os.cpu_count(),
                "sizes": sizes,
                "runs": runs,
                "tui_runs": tui_runs,
                "load_average": {"before": load_before, "after": load_after},
                "seconds": round(time.perf_counter() - started, 1),
                "results": results,
                "markdown": text,
                "mlflow": {
                    "models": mlflow_models,
                    "versions": mlflow_versions,
                    "results": mlflow_results,
                    "markdown": mlflow_text,
                }
                if mlflow_results
                else None,
            },
            indent=2,
        )
        + "\n"
    )
    missed = [
        r
        for r in results
        if (key := (r["figure"], r["backend"])) in BUDGETS
        and r["models"] == BUDGET_SIZES.get(key, BUDGET_SIZE)
        and r["median"] > BUDGETS[key]
    ]
    if missed:
        raise SystemExit(f"{len(missed)} budget(s) missed")


if __name__ == "__main__":
    main()
