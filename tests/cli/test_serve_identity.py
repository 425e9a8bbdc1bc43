"""`mlops serve` on a team whose identity is the database role: the server's own role acts
for each token's person with SET ROLE, so the database, not the server, decides who acts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from tests.cli.test_cli import MLOPS, fails, ok
from tests.cli.test_identity import as_role, team_db  # noqa: F401 - team_db is a fixture
from tests.conftest import raw_execute
from tests.loop_model import free_port


def post(port: int, secret: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/ci",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_acts_under_each_person_s_role_and_names_a_missing_grant(
    team_db,  # noqa: F811
) -> None:
    owner_url, urls, names = team_db
    root, vic, nora = (names[k] for k in ("root", "vic", "nora"))
    server_role = f"serve_{root.rsplit('_', 1)[1]}"
    group = f"mlops_team_{root.rsplit('_', 1)[1]}"
    ok(urls["root"], "user", "add", root, "--role", "admin", MLOPS_USER=root)
    ok(urls["root"], "user", "add", vic, "--role", "viewer", MLOPS_USER=root)
    ok(urls["root"], "user", "add", nora, "--role", "member", MLOPS_USER=root)
    ok(urls["root"], "settings", "set", "identity", "database", MLOPS_USER=root)
    ok(urls["root"], "settings", "set", "open_join", "false")
    ok(urls["nora"], "model", "add", "churn", "--owner", nora)
    secret = ok(urls["root"], "token", "create", "nora-ci", "--for", nora).strip()
    raw_execute(owner_url, f"CREATE ROLE {server_role} LOGIN PASSWORD 'pw' IN ROLE {group}")
    served = as_role(owner_url, server_role, "pw")
    proc = None
    try:
        # Without the grant, it says which one is missing and does not start.
        refused = fails(served, "serve", "--listen", f"127.0.0.1:{free_port()}", code=7)
        assert f'GRANT "{nora}" TO "{server_role}"' in refused

        raw_execute(owner_url, f"GRANT {nora} TO {server_role}")
        port = free_port()
        proc = subprocess.Popen(
            [*MLOPS, "serve", "--listen", f"127.0.0.1:{port}"],
            env={**os.environ, "MLOPS_DB": served, "MLOPS_USER": root},  # MLOPS_USER is moot
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        build = {"record": "build", "model": "churn", "commit": "c" * 40, "image": "reg/c:1"}
        status, body = post(port, secret, build)
        assert status == 201, body
        history = json.loads(ok(owner_url, "history", "--json", "--limit", "0"))
        actors = {e["actor"] for e in history if e["kind"].startswith("build.")}
        assert actors == {nora}  # the role serve took, as the database says

        # A token made later, for someone the server's role may not act as: 403, one line.
        vic_secret = ok(urls["root"], "token", "create", "vic-ci", "--for", vic).strip()
        status, body = post(port, vic_secret, build)
        assert status == 403 and f'GRANT "{vic}" TO "{server_role}"' in body["error"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        err = proc.stderr.read() if proc.stderr else ""
        assert "acting as each token's database role" in err and "Traceback" not in err
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        raw_execute(owner_url, f"DROP ROLE IF EXISTS {server_role}")
