"""The audit chain: intact after real use, broken by any edit behind the tool's back, kept
through export/import and schema upgrades, linear under concurrent writers."""

from __future__ import annotations

import io
import sqlite3
import threading

import pytest

from mlops_tui.services import audit, lifecycle, transfer
from mlops_tui.services.context import Context
from mlops_tui.store import migrations, open_store
from tests.conftest import drop_pg_schema, new_pg_schema, raw_execute


def lift_triggers(url: str) -> None:
    """What an attacker with a database shell does first."""
    if url.startswith("postgresql://"):
        raw_execute(url, "ALTER TABLE events DISABLE TRIGGER events_append_only")
    else:
        raw_execute(url, "DROP TRIGGER events_no_update")
        raw_execute(url, "DROP TRIGGER events_no_delete")


def some_history(ctx: Context) -> None:
    lifecycle.add_model(ctx, "churn", owner="bob")
    lifecycle.add_model(ctx, "fraud", owner="carol")
    lifecycle.move(ctx, "churn", "build")
    lifecycle.set_role(ctx, "churn", "dave", role="backup")
    lifecycle.move(ctx, "churn", "plan", note="naïve 模型 — wrong window ✓")


def test_the_chain_is_intact_after_real_changes(ctx: Context) -> None:
    some_history(ctx)
    verdict = audit.verify(ctx)
    assert verdict.intact and verdict.events == 5
    assert len(verdict.head) == 64


def test_an_edited_event_is_named(db_url: str, ctx: Context) -> None:
    some_history(ctx)
    third = sorted(e.id for e in ctx.store.history())[2]
    lift_triggers(db_url)
    if db_url.startswith("postgresql://"):
        raw_execute(db_url, f'UPDATE events SET data = \'{{"to": "deploy"}}\' WHERE id = {third}')
    else:
        raw_execute(db_url, f"UPDATE events SET actor = 'mallory' WHERE id = {third}")
    bad = audit.verify(ctx).first_bad
    assert bad is not None and (bad.id, bad.problem) == (third, "edited")
    assert bad.at is not None


def test_a_deleted_event_is_a_gap(db_url: str, ctx: Context) -> None:
    some_history(ctx)
    ids = sorted(e.id for e in ctx.store.history())
    lift_triggers(db_url)
    raw_execute(db_url, f"DELETE FROM events WHERE id = {ids[1]}")
    bad = audit.verify(ctx).first_bad
    assert bad is not None and (bad.id, bad.problem) == (ids[2], "deleted")
    assert f"#{ids[1]}" in bad.detail


def test_an_inserted_event_is_caught_even_when_the_tool_writes_after_it(
    db_url: str, ctx: Context
) -> None:
    some_history(ctx)
    raw_execute(
        db_url,
        "INSERT INTO events (id, at, actor, model, kind, data) VALUES "
        "(1000, '2026-01-01T00:00:00+00:00', 'mallory', 'churn', 'owner.set', "
        '\'{"role": "owner", "before": "bob", "after": "mallory"}\')',
    )
    lifecycle.move(ctx, "fraud", "build")  # the tool keeps writing
    bad = audit.verify(ctx).first_bad
    assert bad is not None and (bad.id, bad.problem) == (1000, "inserted")


def test_export_then_import_keeps_the_chain_and_a_forged_file_is_refused(
    ctx: Context, tmp_path
) -> None:
    some_history(ctx)
    out = io.StringIO()
    transfer.export(ctx, out)
    lines = out.getvalue().splitlines(keepends=True)
    with open_store(str(tmp_path / "copy.db")) as copy:
        transfer.import_(Context(copy, "x"), lines)
        verdict = audit.verify(Context(copy, "x"))
        assert verdict.intact and verdict.head == audit.verify(ctx).head
    forged = [line.replace('"actor": "alice"', '"actor": "mallory"', 1) for line in lines]
    with open_store(str(tmp_path / "forged.db")) as target:
        with pytest.raises(Exception, match="breaks the audit chain"):
            transfer.import_(Context(target, "x"), forged)
        assert target.count_models() == 0


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_from_before_the_chain_is_hashed_on_upgrade(request, tmp_path, kind) -> None:
    """Schema 2 databases have events without hashes: the upgrade chains them in place, and
    the history stays append-only afterwards."""
    cleanup = None
    if kind == "sqlite":
        url = str(tmp_path / "old.db")
        conn = sqlite3.connect(url)
        for version in (1, 2):
            for statement in migrations.SQLITE[version]:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        conn.commit()
        conn.close()
    else:
        import psycopg

        server = request.getfixturevalue("pg_server")
        schema, url = new_pg_schema(server)
        cleanup = (server, schema)
        with psycopg.connect(url, autocommit=True) as pg:
            for version in (1, 2):
                for statement in migrations.POSTGRES[version]:
                    pg.execute(statement)
            pg.execute("INSERT INTO mlops_meta (key, value) VALUES ('schema_version', '2')")
    try:
        for i in range(3):
            at = f"2026-01-0{i + 1}T00:00:00+00:00"
            raw_execute(
                url,
                "INSERT INTO models (name, stage, owner, created_at, created_by, updated_at, "
                f"updated_by) VALUES ('m{i}', 'plan', 'bob', '{at}', 'bob', '{at}', 'bob')",
            )
            raw_execute(
                url,
                "INSERT INTO events (at, actor, model, kind, data) VALUES "
                f"('{at}', 'bob', 'm{i}', 'model.created', "
                '\'{"stage": "plan", "owner": "bob", "score": 1e20}\')',
            )
        with open_store(url) as store:
            ctx = Context(store, "alice")
            lifecycle.move(ctx, "m1", "build")
            verdict = audit.verify(ctx)
            assert verdict.intact and verdict.events == 4
        with pytest.raises(Exception, match="append-only"):
            raw_execute(url, "UPDATE events SET actor = 'mallory'")
    finally:
        if cleanup:
            drop_pg_schema(*cleanup)


def test_concurrent_writers_keep_one_linear_chain(db_url: str, ctx: Context) -> None:
    names = [f"w{i}" for i in range(4)]
    for n in names:
        lifecycle.add_model(ctx, n, owner="bob")
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with open_store(db_url) as store:
                wctx = Context(store, f"user-{name}")
                for _ in range(5):
                    lifecycle.move(wctx, name, "build")
                    lifecycle.move(wctx, name, "plan", note="again")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    verdict = audit.verify(ctx)
    assert verdict.intact and verdict.events == 4 + 4 * 10
