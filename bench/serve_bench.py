"""`mlops serve` under Alertmanager's load, and /metrics at 10,000 models: figures for the
bench, and the load generator tests/reliability/test_serve_load.py drives.

- `scrape_figures`: the server-side cost of one /metrics exposition, cold (a fresh
  `Exposition` formats every model) and warm (the next scrape after one model changed,
  which formats that model alone). Prometheus scrapes every 15 s; cold is what a restart
  costs once, warm is what the server pays all day.
- `load_figures`: a real `mlops serve` process taking `rate` Alertmanager notifications a
  second for `seconds`: per-request latency and the rate it kept up with.

The load is offered on a schedule (notification i is due at i / rate), not as fast as the
server answers, so a server that falls behind shows it as latency and a lower achieved rate
instead of quietly slowing the client down. Its mix is what Alertmanager sends: new firing
alerts, repeats of alerts still firing, resolutions, one to three alerts per notification.
A resolution is only sent once no notification firing that alert is still in flight, and an
alert is never repeated after it resolved, so the outcome is the same whatever order the
concurrent requests land in: a test can check it exactly (`Load.problems`).

    .venv/bin/python bench/serve_bench.py [--models 10000] [--runs 10] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlops_tui.services.context import Context
from mlops_tui.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "root"
BOT = "am-bot"  # the service account Alertmanager's token admits
MODELS = 20  # models the alerts name
PREFIX = "alerting"
HOOK = "/hooks/alertmanager"
CONCURRENCY = 32  # Alertmanager's own senders are a handful; a bound, not a target
REQUEST_TIMEOUT_S = 30
START_TIMEOUT_S = 60  # imports, the schema, the first connection: seconds, even when loaded
STOP_TIMEOUT_S = 30  # run_app's shutdown_timeout is 10 s
#: each alert of a notification: a repeat or a resolution while there is one to make,
#: else a new alert
REPEAT, RESOLVE = 0.3, 0.2
#: figure -> unit, for bench/run.py's table
UNITS = {
    "serve: Alertmanager hook latency": "ms",
    "serve: Alertmanager hook rate": "notifications/s",
    "serve: /metrics render, cold": "ms",
    "serve: /metrics render, one model changed": "ms",
}


# -- the server ------------------------------------------------------------------------------
def free_port() -> int:
    """A port nobody listens on now (the server may still lose it to a race: `serving`
    tries another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    """A running `mlops serve` process: its address, and its output in a file (one line per
    request: a pipe nobody read would fill and stall the server)."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    killed: bool = False

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; a server still running after
        STOP_TIMEOUT_S is killed (and `killed` says so). Returns its exit code; idempotent."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        return self.proc.returncode

    def output(self, tail: int = 40) -> str:
        """The server's last lines, for a failure's message."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail:])


#: straight to the server: never through a proxy named in the environment
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(url: str) -> bool:
    try:
        with DIRECT.open(f"{url}/healthz", timeout=5) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def start(db: str, log_dir: Path, *, attempts: int = 3) -> Served:
    """`python -m mlops_tui serve` on `db` and a free port, once /healthz answers 200. A
    port taken between choosing it and listening on it is retried on another."""
    env = {**os.environ, "MLOPS_DB": db, "NO_COLOR": "1"}
    why = ""
    for _ in range(attempts):
        port = free_port()
        log = log_dir / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mlops_tui", "serve", "--listen", f"127.0.0.1:{port}"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        served = Served(f"http://127.0.0.1:{port}", proc, log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            if _healthy(served.url):
                return served
            time.sleep(0.1)
        served.stop()
        why = served.output()
        if "cannot listen" not in why:
            break
    raise RuntimeError(f"mlops serve did not come up on {db}:\n{why}")


@contextlib.contextmanager
def serving(db: str, log_dir: Path) -> Iterator[Served]:
    """A server for the block's length: stopped on the way out whatever happened."""
    served = start(db, log_dir)
    try:
        yield served
    finally:
        served.stop()


def prepare(store: Store, models: int = MODELS) -> tuple[str, list[str]]:
    """What Alertmanager needs on a team, made if missing: an admin, a bot member with a new
    token, and `models` models for its alerts to name. Returns (the token's secret, the
    models' names)."""
    from mlops_tui.errors import NotFound
    from mlops_tui.services import lifecycle, team, tokens

    root = Context(store, ADMIN)
    if store.get_user(ADMIN) is None:  # a new team's first admin, or open_join's newcomer
        team.add_user(root, ADMIN, role="admin")
    if store.get_user(BOT) is None:
        team.add_user(root, BOT, role="member", bot=True)
    _, secret = tokens.create(root, f"am-{secrets.token_hex(4)}", for_user=BOT)
    names = [f"{PREFIX}-{i:02d}" for i in range(models)]
    for name in names:
        try:
            store.get_model(name)
        except NotFound:
            lifecycle.add_model(root, name, owner=ADMIN)
    return secret, names


# -- the load --------------------------------------------------------------------------------
Alert = tuple[str, str, str]  # (new | repeat | resolve, fingerprint, model)


class Mix:
    """Which alerts the next notification carries, given what was sent and answered."""

    def __init__(self, models: list[str], rng: random.Random) -> None:
        self.models = models
        self.rng = rng
        self.fired: dict[str, str] = {}  # fingerprint -> model, every one sent firing
        self.firing: list[str] = []  # sent firing, not resolved: may repeat or resolve
        self.resolved: set[str] = set()
        #: notifications firing an alert that were sent and not answered 200 (yet)
        self.in_flight: Counter[str] = Counter()

    def next(self) -> list[Alert]:
        """One to three alerts (mostly one), distinct fingerprints, marked sent."""
        out: list[Alert] = []
        taken: set[str] = set()
        for _ in range(self.rng.choice((1, 1, 1, 2, 3))):
            roll = self.rng.random()
            fp = None
            if roll < RESOLVE:
                fp = self._pick(taken, settled=True)
                kind = "resolve"
            elif roll < RESOLVE + REPEAT:
                fp = self._pick(taken, settled=False)
                kind = "repeat"
            if fp is None:
                fp, kind = f"fp-{len(self.fired):06d}", "new"
                self.fired[fp] = self.rng.choice(self.models)
                self.firing.append(fp)
            taken.add(fp)
            out.append((kind, fp, self.fired[fp]))
        for kind, fp, _ in out:
            if kind == "resolve":
                self.firing.remove(fp)
                self.resolved.add(fp)
            else:
                self.in_flight[fp] += 1
        return out

    def _pick(self, taken: set[str], *, settled: bool) -> str | None:
        """A firing alert not in this notification yet; `settled`: with none of its firing
        notifications in flight, so the resolution cannot overtake them."""
        for _ in range(8):  # a few random tries: most alerts are settled within a second
            if not self.firing:
                return None
            fp = self.rng.choice(self.firing)
            if fp not in taken and not (settled and self.in_flight[fp]):
                return fp
        return None

    def answered(self, alerts: list[Alert], ok: bool) -> None:
        """A notification came back. One that failed (a timeout, a 5xx) may still land
        later: its alerts stay in flight for good and are never resolved."""
        if ok:
            for kind, fp, _ in alerts:
                if kind != "resolve":
                    self.in_flight[fp] -= 1


def alertname(fp: str) -> str:
    """The rule an alert comes from: one of its own per alert, so that each fingerprint is
    one row and the outcome is exact. The registry keeps one unresolved alert per model and
    alertname: a second series of one rule firing on a model is folded into the first one's
    alert (see test_a_rule_still_firing_for_another_series_keeps_its_model_alerted)."""
    return f"ModelDrift_{fp.removeprefix('fp-')}"


def notification(alerts: list[Alert]) -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4) carrying `alerts`."""
    status = "firing" if any(kind != "resolve" for kind, _, _ in alerts) else "resolved"
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ModelDrift"}',
        "status": status,
        "receiver": "mlops",
        "groupLabels": {"alertname": "ModelDrift"},
        "commonLabels": {"alertname": "ModelDrift"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": "resolved" if kind == "resolve" else "firing",
                "labels": {"alertname": alertname(fp), "model": model, "fp": fp},
                "annotations": {"summary": f"drift on {model}", "value": "0.8"},
                "startsAt": "2026-12-07T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph",
                "fingerprint": fp,
            }
            for kind, fp, model in alerts
        ],
    }


@dataclass
class Sent:
    """One notification: its alerts, when it was due, sent and answered (seconds from the
    start), and the answer."""

    alerts: list[Alert]
    due: float
    sent: float = 0.0
    answered: float | None = None
    status: int | None = None
    body: Any = None
    error: str | None = None

    @property
    def latency_ms(self) -> float:
        """From sending to the answer: what the server took, queueing in it included."""
        return ((self.answered or self.sent) - self.sent) * 1000

    @property
    def lag_ms(self) -> float:
        """From when it was due to the answer: also counts the wait for a free sender when
        the server falls behind."""
        return ((self.answered or self.sent) - self.due) * 1000


@dataclass
class Load:
    """What was offered and what came back."""

    rate: float  # offered, notifications/s
    sent: list[Sent]
    fired: dict[str, str]  # fingerprint -> model
    resolved: set[str]
    seconds: float = 0.0  # from the first due time to the last answer
    models: list[str] = field(default_factory=list)

    @property
    def achieved(self) -> float:
        """Notifications answered 200 per second, over the whole run."""
        return sum(s.status == 200 for s in self.sent) / self.seconds if self.seconds else 0.0

    def latencies(self) -> list[float]:
        return [s.latency_ms for s in self.sent if s.answered is not None]

    def alerts(self) -> Counter[str]:
        """How many alerts of each kind (new, repeat, resolve) were sent."""
        return Counter(kind for s in self.sent for kind, _, _ in s.alerts)

    def problems(self) -> list[str]:
        """Every notification answered 200 with exactly what it must have done: its new
        alerts opened or found already open (a repeat may overtake the first sending), its
        resolutions each resolving one alert. Empty when all is well."""
        out: list[str] = []
        for i, s in enumerate(self.sent):
            if s.status != 200 or not isinstance(s.body, dict):
                out.append(f"#{i}: {s.status} {s.error or s.body}")
                continue
            firing = sum(kind != "resolve" for kind, _, _ in s.alerts)
            landed = len(s.body.get("opened", [])) + s.body.get("repeated", -1)
            resolving = len(s.alerts) - firing
            if landed != firing or len(s.body.get("resolved", [])) != resolving:
                out.append(f"#{i}: sent {s.alerts}, got {s.body}")
        opened = sum(len(s.body.get("opened", [])) for s in self.sent if s.status == 200)
        if not out and opened != len(self.fired):
            out.append(f"{opened} alerts opened for {len(self.fired)} fingerprints fired")
        return out

    def summary(self) -> str:
        lat, lag = sorted(self.latencies()), sorted(s.lag_ms for s in self.sent)
        kinds = self.alerts()
        return (
            f"{len(self.sent)} notifications offered at {self.rate:.0f}/s, "
            f"answered at {self.achieved:.0f}/s; latency p50 {percentile(lat, 50):.1f} ms, "
            f"p99 {percentile(lat, 99):.1f} ms (from due time: p50 "
            f"{percentile(lag, 50):.1f} ms, p99 {percentile(lag, 99):.1f} ms); "
            f"alerts: {kinds['new']} new, {kinds['repeat']} repeats, "
            f"{kinds['resolve']} resolutions"
        )


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0 to 100), interpolated; 0 for no samples."""
    if not samples:
        return 0.0
    if len(samples) == 1 or q >= 100:
        return max(samples)
    return statistics.quantiles(samples, n=100, method="inclusive")[max(round(q), 1) - 1]


async def offer(
    url: str,
    secret: str,
    models: list[str],
    *,
    seconds: float = 10,
    rate: int = 200,
    concurrency: int = CONCURRENCY,
    timeout: float = REQUEST_TIMEOUT_S,
    seed: int = 7,
) -> Load:
    """Send `rate` notifications a second for `seconds` to the server at `url`, at most
    `concurrency` at once, each given up after `timeout` seconds, and wait for every answer.
    A failed request is recorded, never raised: the caller sees them all."""
    import aiohttp

    mix = Mix(models, random.Random(seed))
    free = asyncio.Semaphore(concurrency)
    clock = time.perf_counter
    began = clock()
    load = Load(float(rate), [], mix.fired, mix.resolved, models=models)

    async def send(session: aiohttp.ClientSession, record: Sent) -> None:
        try:
            record.sent = clock() - began
            async with session.post(HOOK, json=notification(record.alerts)) as answer:
                record.status = answer.status
                record.body = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        finally:
            record.answered = clock() - began
            mix.answered(record.alerts, record.status == 200)
            free.release()

    tasks: list[asyncio.Task[None]] = []
    session = aiohttp.ClientSession(
        url,
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={"Authorization": f"Bearer {secret}"},
    )
    async with session:
        for i in range(round(seconds * rate)):
            due = i / rate
            delay = due - (clock() - began)
            if delay > 0:
                await asyncio.sleep(delay)
            await free.acquire()  # bounded: whoever holds it answers within `timeout`
            record = Sent(mix.next(), due)
            load.sent.append(record)
            tasks.append(asyncio.create_task(send(session, record)))
        await asyncio.gather(*tasks)
    load.seconds = max((s.answered or 0.0) for s in load.sent) if load.sent else 0.0
    return load


def run_load(url: str, secret: str, models: list[str], **kw: Any) -> Load:
    """`offer` from synchronous code, bounded as a whole: every request is, and the
    schedule is, so this bound is only a backstop against a bug in the generator."""
    seconds = float(kw.get("seconds", 10))
    backstop = seconds + 10 * REQUEST_TIMEOUT_S
    return asyncio.run(asyncio.wait_for(offer(url, secret, models, **kw), backstop))


# -- the figures -----------------------------------------------------------------------------
def _writer(store: Store) -> Context:
    """Who changes a model between two scrapes: an admin when the team has one, else
    "bench", who joins through open_join (a seeded database has no users)."""
    from mlops_tui.domain import UserRole
    from mlops_tui.store import schema

    admins = store.rows(schema.USERS, role=UserRole.ADMIN, active=True)
    return Context(store, admins[0].name if admins else "bench")


def _move_one(ctx: Context, name: str) -> None:
    """Move `name` one stage on (gates skipped with a note, as bench/run.py does): its
    `mlops_model_stage` series changes, so the next scrape formats it again."""
    from mlops_tui.domain import Stage
    from mlops_tui.services import lifecycle

    target = ctx.store.get_model(name).stage.next()
    force = target in (Stage.TEST, Stage.DEPLOY, Stage.MONITOR)
    lifecycle.move(ctx, name, target, note="bench: gate skipped" if force else None, force=force)


def scrape_figures(db: str, runs: int) -> dict[str, list[float]]:
    """Milliseconds to render /metrics on `db` (a seeded registry, 10,000 models at full
    size), server-side: cold, a fresh Exposition's first render; and warm, the same
    Exposition's next render once one model moved. One untimed render first fills the
    page cache."""
    from mlops_tui.services.exporter import Exposition

    cold: list[float] = []
    warm: list[float] = []
    with open_store(db) as store:
        reader, writer = Context(store, "bench"), _writer(store)
        name = store.status_rows()[0].name
        Exposition().render(reader)
        for _ in range(runs):
            exposition = Exposition()
            t = time.perf_counter()
            exposition.render(reader)
            cold.append((time.perf_counter() - t) * 1000)
            _move_one(writer, name)
            t = time.perf_counter()
            exposition.render(reader)
            warm.append((time.perf_counter() - t) * 1000)
    return {
        "serve: /metrics render, cold": cold,
        "serve: /metrics render, one model changed": warm,
    }


def load_figures(db: str, seconds: float = 10, rate: int = 200) -> dict[str, list[float]]:
    """A real `mlops serve` on `db` taking `rate` Alertmanager notifications a second for
    `seconds`: each request's latency in ms, and the rate answered (one sample). Adds the
    team, token and models the alerts need. Raises when a request failed: a figure made of
    errors would mislead."""
    with open_store(db) as store:
        secret, names = prepare(store)
    with tempfile.TemporaryDirectory() as tmp, serving(db, Path(tmp)) as served:
        load = run_load(served.url, secret, names, seconds=seconds, rate=rate)
        problems = load.problems()
        if problems:
            raise RuntimeError(
                f"{len(problems)} notification(s) went wrong, first: {problems[0]}\n"
                + served.output()
            )
    print(f"# {load.summary()}", file=sys.stderr)
    return {
        "serve: Alertmanager hook latency": load.latencies(),
        "serve: Alertmanager hook rate": [load.achieved],
    }


def main() -> None:
    from bench.generate import seed
    from bench.run import drop_pg, fresh_pg, pg_server

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--events-per-model", type=int, default=20)
    parser.add_argument("--runs", type=int, default=10, help="scrapes, cold and warm")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    server = None if args.no_postgres else pg_server()
    backends = ["sqlite", *(["postgresql"] if server else [])]
    schema = f"bench_serve_{args.models}"
    rows: list[tuple[str, str, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            if backend == "sqlite":
                db = str(Path(tmp) / "serve.db")
            else:
                assert server is not None
                db = fresh_pg(server, schema)
            try:
                t = time.perf_counter()
                with open_store(db) as store:
                    seed(store, args.models, args.models * args.events_per_model)
                print(
                    f"# {backend}: seeded {args.models:,} models in "
                    f"{time.perf_counter() - t:.1f} s",
                    file=sys.stderr,
                )
                figures = scrape_figures(db, args.runs)
                figures |= load_figures(db, args.seconds, args.rate)
                rows += [(figure, backend, samples) for figure, samples in figures.items()]
            finally:
                if server is not None and backend == "postgresql":
                    drop_pg(server, schema)
    print(f"\n{args.models:,} models; {args.rate}/s offered for {args.seconds:g} s\n")
    print("| figure | backend | median | p99 | samples |\n|---|---|---:|---:|---:|")
    for figure, backend, samples in rows:
        unit = UNITS[figure]
        med, p99 = statistics.median(samples), percentile(sorted(samples), 99)
        print(f"| {figure} | {backend} | {med:,.1f} {unit} | {p99:,.1f} {unit} | {len(samples)} |")


if __name__ == "__main__":
    main()
