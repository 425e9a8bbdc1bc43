"""A real Prometheus and a real Alertmanager for tests, on 127.0.0.1 and free ports.

Stand-ins answering /api/v1/query in Prometheus's JSON format only test what we believe
Prometheus does; these run the Debian binaries with generated config files in a temp folder,
so scraping, PromQL, alerting rules and webhook delivery are Prometheus's own. Every wait is
bounded and every process is stopped (terminate, then kill), also when a test fails: use them
as context managers. Config files are written as JSON, which is YAML, so no YAML library and
no quoting surprises.

Timing facts worth knowing when writing a test against them:
  - Prometheus applies its scrape targets only on a 5 s discovery tick, so the first sample
    arrives 5-10 s after start, whatever the scrape interval: `wait_for` it, with a bound.
  - Its notifier also learns the Alertmanager on that tick and drops alerts sent before, so
    alerts are resent every `resend_delay` (1 s here, 1 m by default) instead of only once.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

START_TIMEOUT = 30.0  # a loaded 2-core machine can take seconds to open a TSDB
STOP_TIMEOUT = 10.0
POLL = 0.1

Result = list[dict[str, Any]]


def find_binary(name: str) -> str:
    """The path of `prometheus` or `prometheus-alertmanager` (`alertmanager` upstream's name).
    A machine without it skips the test, but CI installs both, so there a missing one fails:
    a silently skipped integration test would hide that nothing was checked."""
    names = [name]
    if name in ("prometheus-alertmanager", "alertmanager"):
        names = ["prometheus-alertmanager", "alertmanager"]
    for candidate in names:
        found = shutil.which(candidate)
        if found:
            return found
    why = f"{' or '.join(names)} is not installed (apt-get install {names[0]})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}: required under CI=true")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _http(
    url: str,
    *,
    body: object = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """(status, body) of a GET, or of a JSON POST when `body` is given; HTTP errors are
    answers too, so callers see Prometheus's own error text."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


_running: set[_Server] = set()


@atexit.register
def _stop_leftovers() -> None:
    """A backstop for a test run that is interrupted between start and stop."""
    for server in list(_running):
        server.stop()


class _Server:
    """One server process: config written, started on a free port, ready-checked, stopped."""

    name = "server"

    def __init__(self, tmp: Path | str, binary: str) -> None:
        self.binary = binary
        self.dir = Path(tmp) / f"{self.name}-{os.urandom(3).hex()}"
        self.dir.mkdir(parents=True)
        self.log_path = self.dir / f"{self.name}.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def _write_config(self) -> None:
        raise NotImplementedError

    def _args(self) -> list[str]:
        raise NotImplementedError

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        """Start and wait until /-/ready answers 200. A free port can be taken between
        picking and binding it (another test's server), so that one failure is retried on a
        new port; anything else fails the test with the log's tail."""
        self._write_config()
        for _ in range(3):
            self.port = free_port()
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [self.binary, *self._args()],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.dir,
                )
            _running.add(self)
            try:
                why = self._wait_ready(timeout)
            except BaseException:  # Ctrl+C while waiting: `with` would not call __exit__
                self.stop()
                raise
            if why is None:
                return self
            self.stop()
            if "address already in use" not in self.log_tail(40):
                break
        pytest.fail(f"{self.name} on {self.address} {why}; log {self.log_path}:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> str | None:
        """None once ready, else why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = None if self._process is None else self._process.poll()
            if code is not None:  # a config or flag error, or a taken port
                return f"exited with code {code} before it was ready"
            with contextlib.suppress(OSError):
                if _http(f"{self.url}/-/ready", timeout=2)[0] == 200:
                    return None
            time.sleep(POLL)
        return f"was not ready within {timeout:.0f} s"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate, then kill when it has not exited within `timeout`."""
        process, self._process = self._process, None
        _running.discard(self)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job: `targets` are "127.0.0.1:PORT"; a bearer token is sent as
    `Authorization: Bearer …` (Prometheus's `authorization.credentials`)."""

    name: str
    targets: Sequence[str]
    metrics_path: str = "/metrics"
    bearer_token: str | None = None
    scrape_interval: str = "1s"
    #: labels every series of the job carries (a model's container: `model: NAME`)
    labels: dict[str, str] | None = None

    def config(self) -> dict[str, Any]:
        targets: dict[str, Any] = {"targets": list(self.targets)}
        if self.labels:
            targets["labels"] = dict(self.labels)
        job: dict[str, Any] = {
            "job_name": self.name,
            "scrape_interval": self.scrape_interval,
            "scrape_timeout": self.scrape_interval,
            "metrics_path": self.metrics_path,
            "static_configs": [targets],
        }
        if self.bearer_token is not None:
            job["authorization"] = {"type": "Bearer", "credentials": self.bearer_token}
        return job


class Prometheus(_Server):
    """A real Prometheus scraping `jobs`, evaluating `rules` (an alerting rules file's YAML)
    every second and sending alerts to `alertmanager` ("127.0.0.1:PORT"). Every query it
    answers is kept in a query log, so a test can see what a client really asked."""

    name = "prometheus"

    def __init__(
        self,
        tmp: Path | str,
        jobs: Sequence[ScrapeJob] = (),
        *,
        rules: str | None = None,
        alertmanager: str | None = None,
        resend_delay: str = "1s",
    ) -> None:
        super().__init__(tmp, find_binary("prometheus"))
        self.jobs = list(jobs)
        self.rules = rules
        self.alertmanager = alertmanager
        self.resend_delay = resend_delay
        self.config_path = self.dir / "prometheus.yml"
        self.query_log_path = self.dir / "queries.log"

    def _write_config(self) -> None:
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": "1s",
                "evaluation_interval": "1s",
                "query_log_file": str(self.query_log_path),
            },
            "scrape_configs": [job.config() for job in self.jobs],
        }
        if self.rules is not None:
            rules_path = self.dir / "rules.yml"
            rules_path.write_text(self.rules)
            config["rule_files"] = [str(rules_path)]
        if self.alertmanager is not None:
            config["alerting"] = {
                "alertmanagers": [
                    {"api_version": "v2", "static_configs": [{"targets": [self.alertmanager]}]}
                ]
            }
        self.config_path.write_text(json.dumps(config, indent=2))

    def _args(self) -> list[str]:
        return [
            f"--config.file={self.config_path}",
            f"--web.listen-address={self.address}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--rules.alert.resend-delay={self.resend_delay}",
            "--log.level=info",
        ]

    def _api(self, path: str, params: dict[str, str] | None = None) -> Any:
        url = f"{self.url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = _http(url, timeout=10)
        try:
            doc = json.loads(body)
        except ValueError:
            raise AssertionError(f"{url}: HTTP {status}, not JSON: {body[:200]!r}") from None
        if doc.get("status") != "success":
            raise AssertionError(f"{url}: HTTP {status}: {doc.get('error', doc)}")
        return doc["data"]

    def query(self, promql: str) -> Result:
        """The instant query's results: [{"metric": {...}, "value": [ts, "0.7"]}, ...]
        (a scalar or string result comes back as one such dict without labels)."""
        data = self._api("/api/v1/query", {"query": promql})
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: Result = data["result"]
        return result

    def wait_for(
        self,
        promql: str,
        predicate: Callable[[Result], bool] = bool,
        timeout: float = 30.0,
    ) -> Result:
        """Poll `promql` until `predicate(results)` holds (by default: any result), and
        return those results; fail with the last answer and the log when it never does."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            try:
                last = result = self.query(promql)
                if predicate(result):
                    return result
            except (AssertionError, OSError) as exc:
                last = exc
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL)
        pytest.fail(
            f"{promql!r} did not satisfy the condition within {timeout:.0f} s; last answer: "
            f"{last!r}\ntargets: {self.targets()!r}\nlog:\n{self.log_tail()}"
        )

    def alerts(self) -> Result:
        """The alerts its rules hold now (pending or firing), from /api/v1/alerts."""
        alerts: Result = self._api("/api/v1/alerts")["alerts"]
        return alerts

    def targets(self) -> Result:
        """Scrape targets with their health and last error: what to show when a wait fails."""
        try:
            targets: Result = self._api("/api/v1/targets")["activeTargets"]
        except (AssertionError, OSError) as exc:
            return [{"error": str(exc)}]
        return targets

    def logged_queries(self) -> list[str]:
        """Every PromQL expression it has evaluated, in order (its query log)."""
        try:
            lines = self.query_log_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line)["params"]["query"] for line in lines if line.strip()]


class Alertmanager(_Server):
    """A real Alertmanager with one webhook receiver (bearer token when given), grouping by
    alert name and notifying fast: group_wait and group_interval 1 s, repeat_interval 2 s,
    resolved alerts too. Clustering is off (`--cluster.listen-address=`): gossip would bind a
    second port (9094 by default, shared by every test) and delay readiness while it settles."""

    name = "alertmanager"

    def __init__(
        self,
        tmp: Path | str,
        webhook_url: str,
        *,
        bearer_token: str | None = None,
        group_wait: str = "1s",
        group_interval: str = "1s",
        repeat_interval: str = "2s",
    ) -> None:
        super().__init__(tmp, find_binary("prometheus-alertmanager"))
        self.webhook_url = webhook_url
        self.bearer_token = bearer_token
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.config_path = self.dir / "alertmanager.yml"

    def _write_config(self) -> None:
        webhook: dict[str, Any] = {"url": self.webhook_url, "send_resolved": True}
        if self.bearer_token is not None:
            webhook["http_config"] = {
                "authorization": {"type": "Bearer", "credentials": self.bearer_token}
            }
        config = {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname"],
                "group_wait": self.group_wait,
                "group_interval": self.group_interval,
                "repeat_interval": self.repeat_interval,
            },
            "receivers": [{"name": "hook", "webhook_configs": [webhook]}],
        }
        self.config_path.write_text(json.dumps(config, indent=2))

    def _args(self) -> list[str]:
        return [
            f"--config.file={self.config_path}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",
            f"--storage.path={self.dir / 'data'}",
            "--log.level=info",
        ]

    def post_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Inject alerts as Prometheus would (/api/v2/alerts): each needs at least
        {"labels": {"alertname": ...}}; optional annotations, startsAt, endsAt."""
        status, body = _http(f"{self.url}/api/v2/alerts", body=list(alerts), timeout=10)
        if status != 200:
            raise AssertionError(f"Alertmanager refused the alerts: HTTP {status}: {body!r}")

    def alerts(self) -> Result:
        """The alerts it holds now (/api/v2/alerts)."""
        status, body = _http(f"{self.url}/api/v2/alerts", timeout=10)
        if status != 200:
            raise AssertionError(f"/api/v2/alerts: HTTP {status}: {body!r}")
        alerts: Result = json.loads(body)
        return alerts


class MetricsEndpoint:
    """A stdlib HTTP server answering GET /metrics with text a test can change, as a model's
    exporter would; with a bearer token it answers 401 to scrapes without it, so a test sees
    that Prometheus really sends the configured credentials."""

    def __init__(self, text: str = "", *, bearer_token: str | None = None) -> None:
        self.text = text
        self.bearer_token = bearer_token
        self.scrapes = 0
        self.refused = 0
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with endpoint._lock:
                    wanted = endpoint.bearer_token
                    if wanted is not None and self.headers.get("Authorization") != (
                        f"Bearer {wanted}"
                    ):
                        endpoint.refused += 1
                        status, data = 401, b"unauthorized\n"
                    elif self.path.split("?")[0] != "/metrics":
                        status, data = 404, b"not found\n"
                    else:
                        endpoint.scrapes += 1
                        status, data = 200, endpoint.text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread: threading.Thread | None = None

    @property
    def target(self) -> str:
        """What a scrape job's targets list names: "127.0.0.1:PORT"."""
        return f"127.0.0.1:{self._server.server_port}"

    def set(self, text: str) -> None:
        with self._lock:
            self.text = text

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=STOP_TIMEOUT)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def gauge(name: str, *samples: tuple[dict[str, str], float]) -> str:
    """Prometheus text format for one gauge: gauge("d", ({"slice": "a"}, 0.3)) gives
    '# TYPE d gauge\\nd{slice="a"} 0.3\\n'."""
    lines = [f"# TYPE {name} gauge"]
    for labels, value in samples:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.append(f"{name}{{{inner}}} {value}" if inner else f"{name} {value}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def stack(
    tmp: Path | str,
    jobs: Sequence[ScrapeJob],
    rules: str,
    webhook_url: str,
    *,
    bearer_token: str | None = None,
) -> Iterator[tuple[Prometheus, Alertmanager]]:
    """Alertmanager then Prometheus sending to it, both stopped on the way out."""
    with (
        Alertmanager(tmp, webhook_url, bearer_token=bearer_token) as am,
        Prometheus(tmp, jobs, rules=rules, alertmanager=am.address) as prom,
    ):
        yield prom, am
