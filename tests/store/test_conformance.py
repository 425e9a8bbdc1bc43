"""The store contract, run identically against SQLite and a real PostgreSQL server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlops_tui.domain import AlertStatus, Event, Model, NewEvent, Stage
from mlops_tui.errors import AlreadyExists, Conflict, NotFound, UngatedWrite
from mlops_tui.grants import Grant
from mlops_tui.store import Change, Store, open_store, schema
from mlops_tui.store.migrations import LATEST
from mlops_tui.store.schema import ALERTS, HANDOFFS, LINKS, MONITORING, SETTINGS, USERS, VIEWS, Not
from tests.conftest import raw_execute

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


class AnyWrite(Grant):
    """Here the store's SQL is under test; who may write is the gate's, tested below and
    in tests/services and tests/cli."""

    def allows(self, actor: str, model: str | None, kind: str | None) -> str | None:
        return None


def granted(store: Store):
    return store.acting(AnyWrite("conformance", "any"))


@pytest.fixture(autouse=True)
def _writes_allowed(request: pytest.FixtureRequest):
    if "store" not in request.fixturenames or request.node.get_closest_marker("gated"):
        yield
        return
    with granted(request.getfixturevalue("store")):
        yield


def make_model(name: str = "churn", **kw) -> Model:
    base = dict(
        name=name,
        stage=Stage.PLAN,
        owner="alice",
        created_at=T0,
        created_by="alice",
        updated_at=T0,
        updated_by="alice",
    )
    base.update(kw)
    return Model(**base)


def ev(kind: str = "model.created", model: str | None = "churn", at=T0, actor="alice", **data):
    return NewEvent(at=at, actor=actor, model=model, kind=kind, data=data)


# The writes the services make, as a unit of work.
def insert(store: Store, model: Model, event: NewEvent) -> Change:
    with store.transaction() as tx:
        stored = tx.models.insert(model, duplicate=f"a model named {model.name!r} already exists")
        return Change(stored, tx.events.append(event))


def update(
    store: Store, name: str, revision: int, changes: dict[str, Any], event: NewEvent
) -> Change:
    with store.transaction() as tx:
        stored = tx.models.revise(name, changes, event, revision=revision)
        if stored is not None:
            return Change(stored, tx.events.append(event))
    raise Conflict.stale(store.get_model(name), revision)


def append(store: Store, event: NewEvent) -> Event:
    with store.transaction() as tx:
        return tx.events.append(event)


def load(store: Store, records: dict[str, Any]) -> None:
    with store.transaction() as tx:
        tx.restore(records)


def test_schema_is_current_and_init_is_idempotent(store: Store) -> None:
    assert store.schema_version() == LATEST
    assert store.migrate() == (LATEST, LATEST)


def test_opening_an_existing_database_keeps_its_data(db_url: str, store: Store) -> None:
    insert(store, make_model(), ev())
    with open_store(db_url) as again, granted(again):
        assert again.get_model("churn").owner == "alice"


def test_insert_and_read_back_every_field(store: Store) -> None:
    m = make_model(description="Ünïcode ✓", repo="/src/churn", tags=["a", "b"], backup="bob")
    change = insert(store, m, ev(owner="alice"))
    assert change.event.id == 1 and change.event.data == {"owner": "alice"}
    assert store.get_model("churn") == m
    assert store.count_models() == 1


def test_duplicate_model_is_refused_and_writes_nothing(store: Store) -> None:
    insert(store, make_model(), ev())
    with pytest.raises(AlreadyExists):
        insert(store, make_model(owner="bob"), ev())
    assert store.get_model("churn").owner == "alice"
    assert len(store.history()) == 1


def test_unknown_model_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="no model named 'ghost'"):
        store.get_model("ghost")


def test_update_bumps_revision_and_records_event(store: Store) -> None:
    insert(store, make_model(), ev())
    later = T0 + timedelta(hours=1)
    change = update(
        store,
        "churn",
        1,
        {"stage": Stage.BUILD},
        ev("stage.moved", at=later, actor="bob", to="build"),
    )
    assert change.model.stage is Stage.BUILD
    assert change.model.revision == 2
    assert (change.model.updated_by, change.model.updated_at) == ("bob", later)
    assert store.history(limit=1)[0] == change.event


def test_stale_update_is_a_conflict_naming_who_changed_it(db_url: str, store: Store) -> None:
    insert(store, make_model(), ev())
    with open_store(db_url) as other, granted(other):
        update(other, "churn", 1, {"owner": "carol"}, ev("owner.set", actor="carol"))
    with pytest.raises(Conflict, match="changed by carol") as info:
        update(store, "churn", 1, {"stage": Stage.BUILD}, ev("stage.moved"))
    assert "nothing was written" in info.value.message
    assert store.get_model("churn").stage is Stage.PLAN
    assert len(store.history()) == 2


def test_state_and_event_are_one_transaction(store: Store) -> None:
    """If the event cannot be written, the state change is rolled back too."""
    insert(store, make_model(), ev())
    with pytest.raises(TypeError):
        update(store, "churn", 1, {"stage": Stage.BUILD}, ev("stage.moved", bad=object()))
    m = store.get_model("churn")
    assert (m.stage, m.revision) == (Stage.PLAN, 1)
    assert len(store.history()) == 1
    with pytest.raises(TypeError):
        insert(store, make_model("other"), ev(model="other", bad={1, 2}))
    with pytest.raises(NotFound):
        store.get_model("other")


def test_history_is_append_only(db_url: str, store: Store) -> None:
    insert(store, make_model(), ev())
    for sql in ("UPDATE events SET actor = 'mallory'", "DELETE FROM events"):
        with pytest.raises(Exception, match="append-only"):
            raw_execute(db_url, sql)
    assert store.history()[0].actor == "alice"


def test_history_filters_and_order(store: Store) -> None:
    insert(store, make_model("a"), ev(model="a"))
    insert(store, make_model("b"), ev(model="b"))
    for i in range(5):
        update(
            store,
            "a",
            i + 1,
            {"iteration": i + 2},
            ev("x", model="a", at=T0 + timedelta(days=i + 1), actor="bob" if i % 2 else "carol"),
        )
    all_events = store.history()
    assert [e.id for e in all_events] == sorted((e.id for e in all_events), reverse=True)
    assert {e.model for e in store.history(model="b")} == {"b"}
    assert {e.actor for e in store.history(actor="bob")} == {"bob"}
    assert len(store.history(actor="bob")) == 2
    since = store.history(since=T0 + timedelta(days=3))
    assert [e.at for e in since] == [T0 + timedelta(days=d) for d in (5, 4, 3)]
    until = store.history(until=T0 + timedelta(days=1))
    assert all(e.at < T0 + timedelta(days=1) for e in until) and len(until) == 2
    assert len(store.history(limit=2)) == 2
    assert store.row(schema.EVENTS, model="a").at == T0 + timedelta(days=5)
    assert store.row(schema.EVENTS, model="nobody") is None


def test_lists_and_status_rows_filter_and_sort(store: Store) -> None:
    for name, stage, owner in [
        ("zeta", "test", "bob"),
        ("alpha", "plan", "alice"),
        ("mid", "test", "alice"),
    ]:
        insert(store, make_model(name, stage=Stage(stage), owner=owner), ev(model=name))
    assert [m.name for m in store.list_models()] == ["alpha", "mid", "zeta"]
    assert [m.name for m in store.list_models(stage=Stage.TEST)] == ["mid", "zeta"]
    assert [r.name for r in store.status_rows(owner="alice")] == ["alpha", "mid"]
    row = store.status_rows(stage=Stage.TEST, owner="bob")[0]
    assert row == ("zeta", "test", "bob", None, None, "unknown", T0, "alice")


def test_head_moves_with_every_change(store: Store) -> None:
    assert store.head() == 0
    insert(store, make_model(), ev())
    first = store.head()
    update(store, "churn", 1, {"iteration": 2}, ev("x"))
    assert store.head() > first


def test_dump_and_load_reproduce_the_state(store: Store, tmp_path) -> None:
    insert(store, make_model(tags=["x"]), ev())
    update(
        store,
        "churn",
        1,
        {"stage": Stage.BUILD},
        ev("stage.moved", at=T0 + timedelta(seconds=1), to="build"),
    )
    records = list(store.dump())
    with open_store(str(tmp_path / "copy.db")) as copy, granted(copy):
        by_kind: dict[str, list] = {}
        for kind, row in records:
            by_kind.setdefault(kind, []).append(row)
        load(copy, by_kind)
        assert list(copy.dump()) == records
        # ids continue after the imported ones
        change = update(copy, "churn", 2, {"iteration": 2}, ev("x"))
        assert change.event.id == 3


def test_load_into_postgres_continues_ids(pg_server: str) -> None:
    from tests.conftest import drop_pg_schema, new_pg_schema

    schema, url = new_pg_schema(pg_server)
    try:
        with open_store(url) as s, granted(s):
            row = {
                "id": 41,
                "at": T0.isoformat(),
                "actor": "a",
                "model": None,
                "kind": "k",
                "data": {},
            }
            load(s, {"event": [row]})
            insert(s, make_model(), ev())
            assert s.head() == 42
    finally:
        drop_pg_schema(pg_server, schema)


def test_a_newer_schema_is_refused(db_url: str, store: Store) -> None:
    if store.backend == "sqlite":
        raw_execute(db_url, f"PRAGMA user_version = {LATEST + 1}")
    else:
        raw_execute(db_url, f"UPDATE mlops_meta SET value = '{LATEST + 1}'")
    from mlops_tui.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable, match="upgrade mlops-tui"):
        open_store(db_url)


def test_models_are_values(store: Store) -> None:
    m = make_model()
    insert(store, m, ev())
    assert replace(store.get_model("churn"), owner="x") != store.get_model("churn")


@pytest.mark.gated
def test_the_store_writes_nothing_without_a_grant_from_the_gate(store: Store) -> None:
    """A use case that forgot the gate fails at once, whatever it tried to write."""
    with pytest.raises(UngatedWrite, match="without a grant"):
        insert(store, make_model(), ev())
    with pytest.raises(UngatedWrite):
        append(store, ev("note"))
    with pytest.raises(UngatedWrite):
        load(store, {})
    assert store.count_models() == 0 and store.history() == []


@pytest.mark.gated
def test_a_grant_covers_only_its_actor_its_models_and_its_kinds(store: Store) -> None:
    with store.acting(Grant("alice", "create")):
        insert(store, make_model(), ev())
        with pytest.raises(UngatedWrite, match="by 'bob' under a grant for 'alice'"):
            append(store, ev("x", actor="bob"))
    pending = Grant("alice", "deploy", models=set(), pending=True)
    with store.acting(pending):
        with pytest.raises(UngatedWrite, match="never checked"):
            append(store, ev("deploy.started"))
        pending.pending = False
        pending.models = {"fraud"}
        with pytest.raises(UngatedWrite, match="an event of 'churn'"):
            append(store, ev("deploy.started"))
    with store.acting(Grant("alice", "refusal", kinds=frozenset({"permission.denied"}))):
        append(store, ev("permission.denied"))
        with pytest.raises(UngatedWrite, match=r"a stage\.moved event"):
            append(store, ev("stage.moved"))
    assert [e.kind for e in store.history()] == ["permission.denied", "model.created"]
    with pytest.raises(UngatedWrite):
        append(store, ev("x"))  # the grants ended with their blocks


@pytest.mark.gated
def test_a_change_without_its_event_is_refused_and_rolled_back(store: Store) -> None:
    """The unit of work: a use case that changed the team's data and forgot the history
    fails at the end of its transaction, and nothing it wrote stays."""
    with store.acting(Grant("alice", "create")):
        insert(store, make_model(), ev())
        with pytest.raises(UngatedWrite, match="models with no event"), store.transaction() as tx:
            tx.models.revise("churn", {"stage": Stage.BUILD}, ev("stage.moved"))
        with pytest.raises(UngatedWrite, match="users with no event"), store.transaction() as tx:
            tx.rows(USERS).update({"role": "admin"}, name="alice")
            tx.rows(USERS).add(
                {
                    "name": "mallory",
                    "role": "admin",
                    "active": True,
                    "created_at": T0,
                    "created_by": "mallory",
                    "updated_at": T0,
                    "updated_by": "mallory",
                }
            )
        # a change that matched nothing is no change: nothing to describe
        with store.transaction() as tx:
            assert tx.rows(HANDOFFS).update({"note": "x"}, id=404) is None
            assert tx.rows(LINKS).delete(model="churn") == 0
    assert store.get_model("churn").stage is Stage.PLAN
    assert store.get_user("mallory") is None and store.get_user("alice") is None
    assert len(store.history()) == 1


@pytest.mark.gated
def test_a_grant_that_cannot_record_a_change_cannot_make_one(store: Store) -> None:
    """A refusal may append only its own event and the relay's bookkeeping none: neither
    may touch the team's data, while derived data and a relay's own progress are theirs."""
    with store.acting(Grant("alice", "create")):
        insert(store, make_model(), ev())
    refusal = Grant("alice", "refusal", kinds=frozenset({"permission.denied"}))
    with (
        store.acting(refusal),
        pytest.raises(UngatedWrite, match="grant for refusal"),
        store.transaction() as tx,
    ):
        tx.events.append(ev("permission.denied"))
        tx.models.revise("churn", {"owner": "alice2"}, ev("permission.denied"))
    with store.acting(Grant("alice", "bookkeeping", kinds=frozenset())):
        with pytest.raises(UngatedWrite, match="grant for bookkeeping"), store.transaction() as tx:
            tx.rows(SETTINGS).upsert({"key": "open_join", "value": "false"}, ["key"])
        with store.transaction() as tx:
            seen = {"model": "churn", "actor": "alice", "at": T0, "head": 1}
            tx.rows(VIEWS).upsert(seen, ["model", "actor"])
    assert store.last_view("churn", "alice") == (T0, 1)
    assert store.get_setting("open_join") is None
    assert [e.kind for e in store.history()] == ["model.created"]


def test_rows_read_and_write_records_by_their_declaration(store: Store) -> None:
    """One helper per operation for every table: values stored and read back by the
    column's type, conditions by value, None or anything but a value."""
    insert(store, make_model(), ev())
    with store.transaction() as tx:
        alerts = tx.rows(ALERTS)
        spec = {"model": "churn", "metric": "drift", "status": AlertStatus.OPEN, "opened_at": T0}
        first = alerts.insert({**spec, "value": 0.5, "detail": "high"})
        alerts.insert({**spec, "metric": "up", "status": AlertStatus.RESOLVED})
        assert first.opened_at == T0 and first.value == 0.5 and first.status is AlertStatus.OPEN
        unresolved = Not(AlertStatus.RESOLVED)
        assert [a.metric for a in alerts.all(model="churn", status=unresolved)] == ["drift"]
        assert alerts.get(model="churn", acked_by=None, order="id DESC").metric == "up"
        tx.events.append(ev("alert.opened"))
    with store.transaction() as tx:
        clock = tx.rows(MONITORING)
        clock.upsert({"model": "churn", "stale_at": T0, "last_ok_at": T0}, ["model"])
        later = T0 + timedelta(hours=1)
        clock.upsert(
            {"model": "churn", "stale_at": later, "last_ok_at": None},
            ["model"],
            keep=["last_ok_at"],
        )
    assert store.monitoring("churn") == {"stale_at": later, "last_ok_at": T0, "last_check_at": None}
    assert [
        a.metric for a in store.rows(schema.ALERTS, model="churn", status=Not(AlertStatus.RESOLVED))
    ] == ["drift"]
