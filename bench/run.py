"""`make bench`: seed databases of several sizes and time the commands people type all day.

Prints a Markdown table (paste it into the README) and writes bench/results/latest.json.
Budgets (issue 2): `mlops status` at 10,000 models on SQLite, median under 150 ms for the
table and under 100 ms for one model.
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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import seed
from mlops_tui.store import open_store

BUDGETS_MS = {("sqlite", 10_000, "status"): 150, ("sqlite", 10_000, "status NAME"): 100}


def time_command(db: str, args: list[str], runs: int) -> tuple[float, float]:
    """Median and spread (p90 - p10) in ms of running `mlops ARGS` to completion."""
    env = {**os.environ, "MLOPS_DB": db, "NO_COLOR": "1"}
    mlops = str(Path(sys.executable).with_name("mlops"))
    samples = []
    for i in range(runs + 1):
        start = time.perf_counter()
        result = subprocess.run(
            [mlops, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
        )
        elapsed = (time.perf_counter() - start) * 1000
        if result.returncode:
            raise SystemExit(f"mlops {' '.join(args)} failed: {result.stderr.decode()}")
        if i:  # the first run warms the page cache
            samples.append(elapsed)
    q = statistics.quantiles(samples, n=10)
    return statistics.median(samples), q[-1] - q[0]


def pg_url() -> str | None:
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
    return f"{server}?options={quote(f'-csearch_path={name}')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="model counts, comma-separated")
    parser.add_argument("--events-per-model", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = ["sqlite"]
    server = None if args.no_postgres else pg_url()
    if server:
        backends.append("postgresql")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            for size in sizes:
                events = size * args.events_per_model
                db = (
                    str(Path(tmp) / f"bench-{size}.db")
                    if backend == "sqlite"
                    else fresh_pg(server, f"bench_{size}")
                )
                start = time.perf_counter()
                with open_store(db) as store:
                    seed(store, size, events)
                seeded = time.perf_counter() - start
                print(
                    f"# {backend}: seeded {size:,} models, {events:,} events in {seeded:.1f} s",
                    file=sys.stderr,
                )
                one = "churn-00000"
                for label, argv in [
                    ("status", ["status"]),
                    ("status NAME", ["status", one]),
                    ("status --json", ["status", "--json"]),
                    ("history NAME", ["history", one]),
                ]:
                    median, spread = time_command(db, argv, args.runs)
                    budget = BUDGETS_MS.get((backend, size, label))
                    results.append(
                        {
                            "backend": backend,
                            "models": size,
                            "events": events,
                            "command": f"mlops {label}",
                            "median_ms": round(median, 1),
                            "spread_ms": round(spread, 1),
                            "budget_ms": budget,
                        }
                    )
    print(
        f"\nmlops-tui benchmark — {platform.python_version()}, {os.cpu_count()} cores, "
        f"{args.runs} runs each, median (p10 to p90 spread)\n"
    )
    print("| backend | models | events | command | median | spread | budget |")
    print("|---|---:|---:|---|---:|---:|---:|")
    failed = []
    for r in results:
        budget = f"{r['budget_ms']} ms" if r["budget_ms"] else ""
        if r["budget_ms"] and r["median_ms"] > r["budget_ms"]:
            budget += " **missed**"
            failed.append(r)
        print(
            f"| {r['backend']} | {r['models']:,} | {r['events']:,} | `{r['command']}` | "
            f"{r['median_ms']:.0f} ms | {r['spread_ms']:.0f} ms | {budget} |"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        raise SystemExit(f"{len(failed)} budget(s) missed")


if __name__ == "__main__":
    main()
