"""`mlops token` and `mlops serve` as a person at a shell uses them, on both backends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.cli.test_cli import MLOPS, fails, ok, run
from tests.loop_model import free_port


@pytest.fixture
def team(db_url: str) -> str:
    ok(db_url, "init", MLOPS_USER="root")
    ok(db_url, "user", "add", "root", "--role", "admin", MLOPS_USER="root")
    ok(db_url, "user", "add", "ci", "--bot", "--role", "member", MLOPS_USER="root")
    return db_url


def test_a_secret_is_printed_once_and_never_listed(team: str) -> None:
    made = run(team, "token", "create", "ci-token", "--for", "ci", MLOPS_USER="root")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("mlops_") and len(secret.splitlines()) == 1  # stdout: the secret
    assert "not shown again" in made.stderr
    listed = ok(team, "token", "list", MLOPS_USER="root")
    assert "ci-token" in listed and "never" in listed and secret not in listed
    (row,) = json.loads(ok(team, "token", "list", "--json", MLOPS_USER="root"))
    assert row["name"] == "ci-token" and row["user"] == "ci"
    assert secret not in json.dumps(row) and "hash" not in row
    exported = ok(team, "export", MLOPS_USER="root")
    assert secret not in exported
    history = ok(team, "history", MLOPS_USER="root")
    assert "token ci-token created for ci" in history and secret not in history


def test_mistakes_are_one_line(team: str) -> None:
    ok(team, "token", "create", "ci-token", "--for", "ci", MLOPS_USER="root")
    assert "exists already" in fails(team, "token", "create", "ci-token", MLOPS_USER="root")
    assert "no user named 'cii'" in fails(
        team, "token", "create", "x", "--for", "cii", MLOPS_USER="root", code=2
    )
    assert "did you mean 'ci-token'" in fails(
        team, "token", "revoke", "ci-tokn", MLOPS_USER="root", code=2
    )
    assert "invalid token name" in fails(team, "token", "create", "a b", MLOPS_USER="root")
    refused = fails(team, "token", "create", "mine", MLOPS_USER="ci", code=7)
    assert "may not manage API tokens" in refused
    ok(team, "token", "revoke", "ci-token", MLOPS_USER="root")
    assert "no tokens" in run(team, "token", "list", MLOPS_USER="root").stderr


def test_serve_refuses_a_bad_address_and_stops_on_sigterm(team: str) -> None:
    assert "invalid address" in fails(team, "serve", "--listen", "localhost", code=2)
    assert "invalid address" in fails(team, "serve", "--listen", "127.0.0.1:99999", code=2)
    port = free_port()
    proc = subprocess.Popen(
        [*MLOPS, "serve", "--listen", f"127.0.0.1:{port}"],
        env={**os.environ, "MLOPS_DB": team},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        taken = fails(team, "serve", "--listen", f"127.0.0.1:{port}", code=2)
        assert "cannot listen on 127.0.0.1" in taken
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        err = proc.stderr.read() if proc.stderr else ""
        assert "listening on http://127.0.0.1" in err and "stopped" in err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
