"""`mlops serve` under Alertmanager's load, on SQLite and on PostgreSQL, while people write
through the CLI: 200 notifications a second for 10 s (new alerts, repeats, resolutions; the
generator is bench/serve_bench.py's, so the bench measures the same load), and two loops of
`mlops` commands, each run an OS process of its own, on models the alerts never name.

Every notification must be answered 200 with what it did; each alert fired must be one row
(Alertmanager repeats itself: a repeat must never open a second one, a lost write must never
leave none), resolved exactly when a resolution was sent, with one event each way; every CLI
write must land; the audit chain must verify; SIGTERM must stop the server cleanly.

Latency and the rate answered are printed, never asserted: on a loaded 2-core machine the
server may fall behind 200/s, requests then wait in line (a bounded number in flight, each
given up after 30 s), and the run only takes longer. Correctness is what is checked.
"""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.serve_bench import ADMIN, Served, prepare, run_load, serving
from mlops_tui.domain import ALERT_OPENED, ALERT_RESOLVED, MODEL_EDITED, MODEL_MOVED, AlertStatus
from mlops_tui.services import lifecycle
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from tests.reliability.helpers import mlops

SECONDS = 10
RATE = 200
EDITED, MOVED = "edited-by-hand", "moved-by-hand"  # the CLI writers' models
JOIN_S = 150  # a writer's last `mlops` run is bounded by the helper's 120 s


@dataclass
class Rig:
    """A team on `db` with a token for Alertmanager, and a server running on it."""

    db: str
    secret: str
    models: list[str]  # the models the alerts name
    served: Served


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    """The team, then the server; the server is stopped on the way out, whatever happened."""
    with open_store(db_url) as store:
        secret, names = prepare(store)
        root = Context(store, ADMIN)
        for name in (EDITED, MOVED):
            lifecycle.add_model(root, name, owner=ADMIN)
    with serving(db_url, tmp_path) as served:
        yield Rig(db_url, secret, names, served)


#: one CLI run: (its arguments, its exit code or None when it timed out, its stderr)
Run = tuple[list[str], int | None, str]


def cli_writer(db: str, name: str, stop: threading.Event, runs: list[Run]) -> None:
    """Write to `name` through the CLI, one `mlops` process at a time, until `stop` (at
    least once): its description, or its stage back and forth between plan and build."""
    i = 0
    while True:
        if name == MOVED:
            args = ["move", name, "build"] if i % 2 == 0 else ["move", name, "plan", "-n", "redo"]
        else:
            args = ["model", "set", name, "--description", f"written by hand, nº{i}"]
        try:
            done = mlops(*args, db=db, MLOPS_USER=ADMIN)
            runs.append((args, done.returncode, done.stderr))
        except subprocess.TimeoutExpired as exc:
            runs.append((args, None, str(exc)))
        i += 1
        if stop.is_set():
            return


def test_serve_takes_200_alerts_a_second_beside_cli_writers_and_loses_nothing(
    rig: Rig,
) -> None:
    """The load and the CLI writers together, then everything they should have left."""
    stop = threading.Event()
    runs: dict[str, list[Run]] = {EDITED: [], MOVED: []}
    writers = [
        threading.Thread(target=cli_writer, args=(rig.db, name, stop, runs[name]), daemon=True)
        for name in runs
    ]
    for w in writers:
        w.start()
    try:
        load = run_load(rig.served.url, rig.secret, rig.models, seconds=SECONDS, rate=RATE)
    finally:
        stop.set()
        for w in writers:
            w.join(JOIN_S)
    print(load.summary())
    print(f"CLI writes meanwhile: {', '.join(f'{len(r)} on {n}' for n, r in runs.items())}")
    assert not any(w.is_alive() for w in writers), "a CLI writer never finished"

    problems = load.problems()
    assert not problems, (
        f"{len(problems)} notification(s) went wrong: {problems[:5]}\n{rig.served.output()}"
    )

    with open_store(rig.db) as store:
        alerts = [a for a in store.rows(schema.ALERTS) if a.model in rig.models]
        rows = Counter(a.fingerprint for a in alerts)
        assert set(rows) == set(load.fired), "an alert fired is missing, or one never fired"
        assert {fp: n for fp, n in rows.items() if n != 1} == {}, "an alert was doubled"
        for a in alerts:
            assert a.fingerprint is not None and a.model == load.fired[a.fingerprint], a
            resolved = a.fingerprint in load.resolved
            assert (a.status == AlertStatus.RESOLVED) == resolved, a
        opened = store.rows(schema.EVENTS, kind=ALERT_OPENED)
        assert sorted(e.data["fingerprint"] for e in opened) == sorted(load.fired)
        assert sorted(e.data["alert"] for e in opened) == sorted(a.id for a in alerts)
        closed = store.rows(schema.EVENTS, kind=ALERT_RESOLVED)
        ids = {a.fingerprint: a.id for a in alerts}
        assert sorted(e.data["alert"] for e in closed) == sorted(ids[fp] for fp in load.resolved)

        failed = [r for rs in runs.values() for r in rs if r[1] != 0]
        assert failed == [], f"CLI writes failed beside the server: {failed[:3]}"
        assert all(runs.values()), runs
        last = runs[EDITED][-1][0][-1]
        assert store.get_model(EDITED).description == last
        edits = store.rows(schema.EVENTS, model=EDITED, kind=MODEL_EDITED)
        assert len(edits) == len(runs[EDITED])
        moves = store.rows(schema.EVENTS, model=MOVED, kind=MODEL_MOVED)
        assert len(moves) == len(runs[MOVED])
        assert store.get_model(MOVED).stage == ("build" if len(moves) % 2 else "plan")

    code = rig.served.stop()
    assert (code, rig.served.killed) == (0, False), f"SIGTERM: {code}\n{rig.served.output()}"
    assert "stopped" in rig.served.output(3)
    verified = mlops("audit", "verify", db=rig.db)
    assert verified.returncode == 0, verified.stdout + verified.stderr
