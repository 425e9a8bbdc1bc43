"""A team on PostgreSQL set up as the README says: one database role per person and
`identity database`. Nobody acts as someone else by setting MLOPS_USER, and the warnings
about the unsafe defaults go away once the team is set up."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from tests.cli.test_cli import fails, ok, run
from tests.conftest import drop_pg_schema, new_pg_schema, raw_execute


def as_role(url: str, role: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{quote(role)}:{quote(password)}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture
def team_db(pg_server: str):
    schema, owner_url = new_pg_schema(pg_server)
    tag = uuid.uuid4().hex[:6]
    names = {who: f"{who}_{tag}" for who in ("root", "vic", "nora", "zed")}
    group = f"mlops_team_{tag}"
    ok(owner_url, "init")
    sql = [
        f"CREATE ROLE {group} NOLOGIN",
        f"GRANT USAGE ON SCHEMA {schema} TO {group}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {group}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {group}",
    ]
    sql += [f"CREATE ROLE {n} LOGIN PASSWORD 'pw' IN ROLE {group}" for n in names.values()]
    for statement in sql:
        raw_execute(owner_url, statement)
    urls = {who: as_role(owner_url, n, "pw") for who, n in names.items()}
    try:
        yield owner_url, urls, names
    finally:
        drop_pg_schema(pg_server, schema)
        for n in names.values():
            raw_execute(pg_server, f"DROP ROLE IF EXISTS {n}")
        raw_execute(pg_server, f"DROP ROLE IF EXISTS {group}")


def test_one_role_per_person_and_identity_database(team_db) -> None:
    owner_url, urls, names = team_db
    root, vic, nora, zed = (names[k] for k in ("root", "vic", "nora", "zed"))
    warned = run(urls["root"], "settings", "list", MLOPS_USER=root)
    assert "identity is env" in warned.stderr and "open_join is on" in warned.stderr
    ok(urls["root"], "user", "add", root, "--role", "admin", MLOPS_USER=root)
    ok(urls["root"], "user", "add", vic, "--role", "viewer", MLOPS_USER=root)
    ok(urls["root"], "user", "add", nora, "--role", "member", MLOPS_USER=root)
    ok(urls["root"], "settings", "set", "identity", "database", MLOPS_USER=root)
    ok(urls["root"], "settings", "set", "open_join", "false", MLOPS_USER=root)
    done = run(urls["root"], "init", MLOPS_USER=root)
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    ok(urls["nora"], "model", "add", "churn", "--owner", nora, MLOPS_USER=root)

    # Claiming to be the admin changes nothing: the connection's role acts.
    for who in ("vic", "zed"):
        for args in (
            ("model", "set", "churn", "--repo", "/tmp/elsewhere"),
            ("webhook", "add", "http://127.0.0.1:9/leak"),
            ("approvals", "off", "--all"),
            ("settings", "set", "open_join", "true"),
        ):
            assert "may not" in fails(urls[who], *args, code=7, MLOPS_USER=root)
    assert "may not" in fails(urls["nora"], "approvals", "require", "--all", code=7)
    history = json.loads(ok(owner_url, "history", "--json", "--limit", "0"))
    refusals = [e for e in history if e["kind"] == "permission.denied"]
    assert {e["actor"] for e in refusals} == {vic, zed, nora}
    assert len(refusals) == 9
    assert root not in {e["actor"] for e in refusals}
    assert json.loads(ok(owner_url, "model", "show", "churn", "--json"))["repo"] is None

    # The history stays append-only for the team's roles, whatever they run in psql.
    import psycopg

    with psycopg.connect(urls["nora"], autocommit=True) as conn:
        for statement in ("DELETE FROM events", "TRUNCATE events", "UPDATE events SET actor = 'x'"):
            with pytest.raises(psycopg.Error):
                conn.execute(statement)
    ok(owner_url, "audit", "verify")
