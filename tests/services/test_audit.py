"""The audit chain: intact after real use, broken by any edit behind the tool's back, kept
through export/import and schema upgrades, linear under concurrent writers."""

from __future__ import annotations

import io
import sqlite3
import threading

import pytest

from mlops_tui.domain import Event, NewEvent
from mlops_tui.errors import ChainBroken, InvalidInput
from mlops_tui.services import audit, lifecycle, transfer
from mlops_tui.services.context import Context
from mlops_tui.store import migrations, open_store
from mlops_tui.store.dialect import SQLITE
from tests.conftest import drop_pg_schema, known, new_pg_schema, raw_execute


def lift_triggers(url: str) -> None:
    """What an attacker with a database shell does first."""
    if url.startswith("postgresql://"):
        raw_execute(url, "ALTER TABLE events DISABLE TRIGGER events_append_only")
    else:
        raw_execute(url, "DROP TRIGGER events_no_update")
        raw_execute(url, "DROP TRIGGER events_no_delete")


def some_history(ctx: Context) -> None:
    """Six events: a person added, two models, a move, a backup named, a rework."""
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    lifecycle.add_model(ctx, "fraud", owner=ctx.actor)
    lifecycle.move(ctx, "churn", "build")
    lifecycle.set_role(ctx, "churn", ctx.actor, role="backup")
    lifecycle.move(ctx, "churn", "plan", note="naïve 模型 — wrong window ✓")


def test_the_chain_is_intact_after_real_changes(ctx: Context) -> None:
    some_history(ctx)
    verdict = audit.verify(ctx)
    assert verdict.intact and verdict.events == 6
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


@pytest.mark.parametrize("hashes", [True, False])
def test_an_import_is_anchored_at_its_newest_event(ctx: Context, tmp_path, hashes: bool) -> None:
    """Exports carry no anchor (those made before it existed, and those made since): the
    import anchors what it loads, with or without the chain's hashes in the file."""
    import json

    with open_store(str(tmp_path / "source.db")) as source:
        some_history(Context(source, "alice"))
        out = io.StringIO()
        transfer.export(Context(source, "alice"), out)
        head = audit.head(Context(source, "alice"))
    lines = out.getvalue().splitlines(keepends=True)
    if not hashes:  # as written before the chain existed
        rows = [json.loads(line) for line in lines]
        for row in rows:
            if row["type"] == "event":
                del row["prev_hash"], row["hash"]
        lines = [json.dumps(row) + "\n" for row in rows]
    transfer.import_(ctx, lines)
    assert audit.head(ctx) == head
    assert audit.verify(ctx, audit.parse_witness(head.text)).intact
    lifecycle.move(ctx, "fraud", "build")
    verdict = audit.verify(ctx, audit.parse_witness(head.text))
    assert verdict.intact and verdict.events == head.events + 1


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_from_before_the_chain_is_hashed_on_upgrade(request, tmp_path, kind) -> None:
    """Schema 2 databases have events without hashes: the upgrade chains them in place, and
    the history stays append-only afterwards."""
    cleanup = None
    if kind == "sqlite":
        url = str(tmp_path / "old.db")
        conn = sqlite3.connect(url)
        migrations.upgrade(conn.cursor(), SQLITE, 0, target=2)
        conn.commit()
        conn.close()
    else:
        import psycopg

        server = request.getfixturevalue("pg_server")
        schema, url = new_pg_schema(server)
        cleanup = (server, schema)
        from mlops_tui.store.dialect import POSTGRESQL

        with psycopg.connect(url, autocommit=True) as pg:
            migrations.upgrade(pg.cursor(), POSTGRESQL, 0, target=2)
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


def undo_tokens_and_later_steps(db_url: str) -> None:
    """What the step that added tokens and alerts' fingerprints did, and the steps after
    it, undone."""
    for statement in (
        "DROP TABLE tokens",
        "DROP INDEX alerts_fingerprint",
        "DROP INDEX alerts_one_active",
        "ALTER TABLE alerts DROP COLUMN fingerprint",
        "CREATE UNIQUE INDEX alerts_one_active ON alerts (model, metric) "
        "WHERE status <> 'resolved'",
    ):
        raw_execute(db_url, statement)
    for table in ("mlflow_pushes", "mlflow_versions", "mlflow_links"):  # the step after it
        raw_execute(db_url, f"DROP TABLE {table}")


def test_a_database_from_the_release_before_the_anchor_is_anchored_on_upgrade(
    db_url: str, ctx: Context
) -> None:
    """Schema 5 has the chain but no anchor: the upgrade anchors its newest event, so a
    deletion made after the upgrade is caught, and the upgrade itself raises no alarm."""
    ids = longer_history(ctx, 1)
    if db_url.startswith("postgresql://"):
        raw_execute(db_url, "DROP TABLE audit_anchor")
        raw_execute(db_url, "DROP TRIGGER events_no_truncate ON events")
        raw_execute(db_url, "DROP FUNCTION mlops_anchor_follows")
        raw_execute(db_url, "DROP INDEX events_search")  # and the later steps
        raw_execute(db_url, "DROP TRIGGER events_notify ON events")
        raw_execute(db_url, "DROP FUNCTION mlops_notify")
        raw_execute(db_url, "DROP TABLE checkpoints")
        raw_execute(db_url, "ALTER TABLE users DROP COLUMN bot")
        undo_tokens_and_later_steps(db_url)
        raw_execute(db_url, "UPDATE mlops_meta SET value = '5' WHERE key = 'schema_version'")
    else:
        raw_execute(db_url, "DROP TABLE audit_anchor")
        raw_execute(db_url, "DROP TRIGGER events_search_add")  # and the later steps
        raw_execute(db_url, "DROP TABLE events_search")
        raw_execute(db_url, "DROP TABLE checkpoints")
        raw_execute(db_url, "ALTER TABLE users DROP COLUMN bot")
        undo_tokens_and_later_steps(db_url)
        raw_execute(db_url, "PRAGMA user_version = 5")
    with open_store(db_url) as upgraded:
        assert upgraded.schema_version() == migrations.LATEST
        uctx = Context(upgraded, "alice")
        assert audit.head(uctx).event == ids[-1] and audit.verify(uctx).intact
        lift_triggers(db_url)
        raw_execute(db_url, f"DELETE FROM events WHERE id = {ids[-1]}")
        bad = audit.verify(uctx).first_bad
        assert bad is not None and bad.detail.startswith(f"event #{ids[-1]} is missing")


def test_concurrent_writers_keep_one_linear_chain(db_url: str, ctx: Context) -> None:
    names = [f"w{i}" for i in range(4)]
    for n in names:
        lifecycle.add_model(ctx, n, owner=ctx.actor)
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


# -- the end of the chain: the anchor, SQLite's id counter, a witnessed head ----------------


def lift_anchor_trigger(url: str) -> None:
    """The anchor refuses to move but with an append; an attacker lifts that too."""
    if url.startswith("postgresql://"):
        raw_execute(url, "ALTER TABLE audit_anchor DISABLE TRIGGER audit_anchor_follows")
    else:
        raw_execute(url, "DROP TRIGGER audit_anchor_follows")


def longer_history(ctx: Context, rounds: int = 6) -> list[int]:
    """some_history plus `rounds` round trips of fraud (5 + 2 * rounds events); the ids."""
    some_history(ctx)
    for _ in range(rounds):
        lifecycle.move(ctx, "fraud", "build")
        lifecycle.move(ctx, "fraud", "plan", note="again")
    return sorted(e.id for e in ctx.store.history())


def rewrite_from(url: str, ctx: Context, target: int) -> str:
    """What someone with a database shell and this source code can do: edit event `target`,
    recompute every hash after it and move the anchor along. Returns the new head hash."""
    from mlops_tui.domain import CHAIN_GENESIS, chain_hash

    rows = list(ctx.store.chain())
    lift_triggers(url)
    lift_anchor_trigger(url)
    prev = CHAIN_GENESIS
    for id_, at, actor, model, kind, data, _prev, _digest in rows:
        if id_ == target:
            actor = "mallory"
        new = chain_hash(prev, id_, at, actor, model, kind, data)
        if id_ >= target:
            raw_execute(
                url,
                f"UPDATE events SET actor = '{actor}', prev_hash = '{prev}', hash = '{new}' "
                f"WHERE id = {id_}",
            )
        prev = new
    raw_execute(url, f"UPDATE audit_anchor SET hash = '{prev}' WHERE id = 1")
    return prev


def test_deleting_the_newest_event_is_caught(db_url: str, ctx: Context) -> None:
    ids = longer_history(ctx, 1)
    lift_triggers(db_url)
    raw_execute(db_url, f"DELETE FROM events WHERE id = {ids[-1]}")
    verdict = audit.verify(ctx)
    bad = verdict.first_bad
    assert bad is not None and (bad.id, bad.problem, bad.tail) == (ids[-1], "deleted", True)
    assert bad.detail == (
        f"event #{ids[-1]} is missing: the newest event was deleted "
        f"(the {len(ids) - 1} events before them are intact)"
    )


def test_deleting_the_newest_ten_is_caught_even_after_new_appends(
    db_url: str, ctx: Context
) -> None:
    ids = longer_history(ctx)
    assert len(ids) == 18
    lift_triggers(db_url)
    raw_execute(db_url, f"DELETE FROM events WHERE id >= {ids[-10]}")
    bad = audit.verify(ctx).first_bad
    assert bad is not None and bad.problem == "deleted"
    assert bad.detail.startswith(f"events #{ids[-10]} to #{ids[-1]} are missing: the newest")
    # The tool keeps writing: the next event links to the last one it appended, not to
    # what is left, so the hole stays visible in the middle of the chain.
    lifecycle.move(ctx, "churn", "build")
    bad = audit.verify(ctx).first_bad
    assert bad is not None and bad.problem == "deleted" and not bad.tail
    assert f"#{ids[-10]} to #{ids[-1]}" in bad.detail


def test_deleting_every_event_is_caught(db_url: str, ctx: Context) -> None:
    ids = longer_history(ctx, 1)
    lift_triggers(db_url)
    raw_execute(db_url, "DELETE FROM events")
    verdict = audit.verify(ctx)
    bad = verdict.first_bad
    assert verdict.events == 0 and bad is not None
    assert bad.detail == f"events #1 to #{ids[-1]} are missing: every event was deleted"
    with pytest.raises(ChainBroken, match="every event was deleted"):
        audit.head(ctx)


def test_the_anchor_only_moves_with_an_append(db_url: str, ctx: Context) -> None:
    ids = longer_history(ctx, 1)
    for sql in (
        f"UPDATE audit_anchor SET event = {ids[-3]}",
        "UPDATE audit_anchor SET events = events - 1",
        "DELETE FROM audit_anchor",
    ):
        with pytest.raises(Exception, match=r"anchor only moves|append-only"):
            raw_execute(db_url, sql)
    assert audit.verify(ctx).intact
    # Moved back behind the triggers' back, with the newest events: SQLite's id counter
    # still remembers them; PostgreSQL has no such witness (only --expect catches it).
    lift_triggers(db_url)
    lift_anchor_trigger(db_url)
    raw_execute(db_url, f"DELETE FROM events WHERE id > {ids[-3]}")
    raw_execute(
        db_url,
        f"UPDATE audit_anchor SET event = {ids[-3]}, events = events - 2, hash = "
        f"(SELECT hash FROM events WHERE id = {ids[-3]})",
    )
    bad = audit.verify(ctx).first_bad
    if db_url.startswith("postgresql://"):
        assert bad is None
    else:
        assert bad is not None and "SQLite's id counter reached" in bad.detail
        assert bad.detail.startswith(f"events #{ids[-2]} to #{ids[-1]} are missing")


def test_a_deleted_anchor_is_caught(db_url: str, ctx: Context) -> None:
    some_history(ctx)
    if db_url.startswith("postgresql://"):
        raw_execute(db_url, "ALTER TABLE audit_anchor DISABLE TRIGGER audit_anchor_kept")
    else:
        raw_execute(db_url, "DROP TRIGGER audit_anchor_kept")
    raw_execute(db_url, "DELETE FROM audit_anchor")
    lifecycle.move(ctx, "fraud", "build")  # the tool keeps working, and does not hide it
    bad = audit.verify(ctx).first_bad
    assert bad is not None and "anchor was deleted" in bad.detail
    with pytest.raises(ChainBroken, match="anchor was deleted"):
        audit.head(ctx)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no TRUNCATE
def test_truncate_is_refused_and_caught_when_forced(db_url: str, ctx: Context) -> None:
    ids = longer_history(ctx, 1)
    for table in ("events", "audit_anchor"):
        with pytest.raises(Exception, match="append-only"):
            raw_execute(db_url, f"TRUNCATE {table}")
    assert audit.verify(ctx).intact
    raw_execute(db_url, "ALTER TABLE events DISABLE TRIGGER events_no_truncate")
    raw_execute(db_url, "TRUNCATE events")
    bad = audit.verify(ctx).first_bad
    assert bad is not None and bad.detail.startswith(f"events #1 to #{ids[-1]} are missing")
    raw_execute(db_url, "ALTER TABLE audit_anchor DISABLE TRIGGER ALL")
    raw_execute(db_url, "TRUNCATE audit_anchor")
    bad = audit.verify(ctx).first_bad
    assert bad is not None and "anchor was deleted" in bad.detail


def test_a_rolled_back_append_is_no_false_alarm(
    db_url: str, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the rolled-back append used up an id for good (sequences never go
    back); that gap alone is no evidence, and the anchor went back with the transaction."""
    some_history(ctx)
    before = ctx.store.head()
    from mlops_tui.store.unit import Events

    real = Events.append

    def append_then_fail(self: Events, event: NewEvent) -> Event:
        real(self, event)
        raise RuntimeError("the process died after the append, before the commit")

    monkeypatch.setattr(Events, "append", append_then_fail)
    with pytest.raises(RuntimeError):
        lifecycle.move(ctx, "fraud", "build")
    monkeypatch.undo()
    assert ctx.store.head() == before and audit.verify(ctx).intact
    moved = lifecycle.move(ctx, "fraud", "build")
    gap = 2 if db_url.startswith("postgresql://") else 1
    assert moved.event.id == before + gap
    verdict = audit.verify(ctx)
    assert verdict.intact and verdict.events == 7 and verdict.head_id == moved.event.id
    assert audit.head(ctx).text == f"{moved.event.id}:{verdict.head}"


def test_verify_while_others_write_sees_one_moment(db_url: str, ctx: Context) -> None:
    """The anchor and the rows are read in one snapshot: an append committed between the
    two reads would otherwise look like a deleted newest event."""
    some_history(ctx)
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with open_store(db_url) as store:
                wctx = Context(store, "writer")
                for _ in range(15):
                    lifecycle.move(wctx, "fraud", "build")
                    lifecycle.move(wctx, "fraud", "plan", note="again")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    verdicts = []
    with open_store(db_url) as reader:
        while not done.is_set():
            verdicts.append(audit.verify(Context(reader, "auditor")))
    writer.join(60)
    assert not errors and not writer.is_alive()
    assert verdicts and all(v.intact for v in verdicts), [v.first_bad for v in verdicts]


def test_a_witnessed_head_must_still_be_in_the_history(db_url: str, ctx: Context) -> None:
    ids = longer_history(ctx, 2)
    old = audit.head(ctx)
    assert (old.event, old.events) == (ids[-1], len(ids)) and old.at is not None
    lifecycle.move(ctx, "churn", "build")
    now = audit.head(ctx)
    for kept in (now.text, old.text, old.hash, old.hash[:16], f"  {old.text.upper()}\n"):
        verdict = audit.verify(ctx, audit.parse_witness(kept))
        assert verdict.intact, (kept, verdict.first_bad)
    assert audit.verify(ctx, audit.parse_witness(f"0:{'0' * 64}")).intact
    # Someone rewrites the history from event 3 on, recomputing every hash and the anchor:
    # the chain and the anchor agree, only the head kept elsewhere tells.
    rewrite_from(db_url, ctx, ids[2])
    assert audit.verify(ctx).intact
    for kept in (now.text, old.text):
        bad = audit.verify(ctx, audit.parse_witness(kept)).first_bad
        assert bad is not None and bad.problem == "rewritten"
        assert "is not the witnessed head" in bad.detail
    bad = audit.verify(ctx, audit.parse_witness(old.hash)).first_bad
    assert bad is not None and "no event has the witnessed head's hash" in bad.detail
    # Witnessed, then the newest events deleted (and the anchor moved back to match).
    assert audit.verify(ctx, audit.parse_witness(f"{now.event + 5}:{now.hash}")).first_bad


@pytest.mark.parametrize("text", ["", "abc", "12:xyz", "0:" + "1" * 64, "-3:" + "a" * 64])
def test_a_witness_that_is_not_a_head_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"a witnessed head|a head at event 0"):
        audit.parse_witness(text)


def test_the_head_of_an_empty_history(ctx: Context) -> None:
    found = audit.head(ctx)
    assert (found.event, found.hash, found.at, found.events) == (0, "0" * 64, None, 0)
    assert audit.verify(ctx, audit.parse_witness(found.text)).intact
