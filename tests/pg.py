"""A real PostgreSQL server for the tests: found via MLOPS_TEST_PG_URL, or the machine's own
cluster started and given a test role and database. Under CI=true, not having one fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

DEFAULT_URL = "postgresql://mlops:mlops@127.0.0.1:5432/mlops_test"


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def _psql_as_postgres(sql: str, db: str = "postgres") -> subprocess.CompletedProcess[str]:
    return _run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-d",
            db,
            "-c",
            sql,
        ]
    )


def _reachable(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def ensure_server() -> tuple[str | None, str]:
    """Return (url, "") when a server answers, else (None, why not)."""
    url = os.environ.get("MLOPS_TEST_PG_URL", DEFAULT_URL)
    if _reachable(url) is None:
        return url, ""
    if "MLOPS_TEST_PG_URL" in os.environ:
        return None, f"MLOPS_TEST_PG_URL does not answer: {_reachable(url)}"
    if not shutil.which("pg_ctlcluster") or os.geteuid() != 0:
        return None, "no PostgreSQL here (pg_ctlcluster missing, or not root to start it)"
    listing = _run(["pg_lsclusters", "-h"]).stdout.split()
    if len(listing) < 2:
        return None, "no PostgreSQL cluster on this machine"
    version, cluster = listing[0], listing[1]
    _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "start"])
    for _ in range(50):
        if _psql_as_postgres("SELECT 1").returncode == 0:
            break
        time.sleep(0.2)
    _psql_as_postgres(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlops') THEN "
        "CREATE ROLE mlops LOGIN SUPERUSER PASSWORD 'mlops'; END IF; END $$"
    )
    if (
        _psql_as_postgres("SELECT 1 FROM pg_database WHERE datname = 'mlops_test'").stdout.strip()
        != "1"
    ):
        _psql_as_postgres("CREATE DATABASE mlops_test OWNER mlops")
    problem = _reachable(url)
    return (url, "") if problem is None else (None, f"PostgreSQL did not answer: {problem}")
