"""`mlops serve` while its PostgreSQL server goes away and comes back: every request gets
one line of 503 in the meantime, nothing is half-written, and it serves again without a
restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlops_tui.services import lifecycle, team, tokens
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from tests.cli.test_cli import MLOPS
from tests.loop_model import free_port


def request(port: int, path: str, secret: str, body: Any = None) -> tuple[int, dict[str, str]]:
    """(status, JSON body or {}) of one request; (0, {}) when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError:
        return 0, {}


def until(port: int, path: str, secret: str, status: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while request(port, path, secret)[0] != status:
        assert time.monotonic() < deadline, f"{path} never answered {status}"
        time.sleep(0.2)


def test_serve_answers_503_while_postgresql_is_down_and_recovers(private_pg) -> None:
    with open_store(private_pg.url) as store:
        root = Context(store, "root")
        team.add_user(root, "root", role="admin")
        team.add_user(root, "am", role="member", bot=True)
        lifecycle.add_model(root, "churn", owner="root")
        _, secret = tokens.create(root, "am", for_user="am")
    port = free_port()
    proc = subprocess.Popen(
        [*MLOPS, "serve", "--listen", f"127.0.0.1:{port}"],
        env={**os.environ, "MLOPS_DB": private_pg.url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    alert = {
        "version": "4",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "ModelDrift", "model": "churn"},
                "annotations": {},
                "fingerprint": "f0",
            }
        ],
    }
    try:
        until(port, "/healthz", secret, 200)
        with ThreadPoolExecutor(8) as pool:  # every worker opens a connection of its own
            assert set(pool.map(lambda _: request(port, "/metrics", secret)[0], range(16))) == {200}

        private_pg.stop()
        private_pg.wait_until_down()
        status, answer = request(port, "/hooks/alertmanager", secret, alert)
        assert status == 503, (status, answer)
        assert "PostgreSQL" in answer["error"] and "\n" not in answer["error"]

        private_pg.start()
        # The same process, no restart: the first requests after the outage succeed (each
        # worker's dead connection is replaced, not reported).
        for _ in range(8):
            assert request(port, "/metrics", secret)[0] == 200
        assert request(port, "/hooks/alertmanager", secret, alert)[0] == 200
        with open_store(private_pg.url) as store:
            (opened,) = store.rows(schema.ALERTS, model="churn")  # the 503 one left nothing
            assert opened.fingerprint == "f0"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
