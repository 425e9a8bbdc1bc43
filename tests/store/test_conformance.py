"""The store contract, run identically against SQLite and a real PostgreSQL server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mlops_tui.domain import Model, NewEvent, Stage
from mlops_tui.errors import AlreadyExists, Conflict, NotFound, UngatedWrite
from mlops_tui.grants import Grant
from mlops_tui.store import Store, open_store
from mlops_tui.store.migrations import LATEST
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


def test_schema_is_current_and_init_is_idempotent(store: Store) -> None:
    assert store.schema_version() == LATEST
    assert store.migrate() == (LATEST, LATEST)


def test_opening_an_existing_database_keeps_its_data(db_url: str, store: Store) -> None:
    store.insert_model(make_model(), ev())
    with open_store(db_url) as again, granted(again):
        assert again.get_model("churn").owner == "alice"


def test_insert_and_read_back_every_field(store: Store) -> None:
    m = make_model(description="Ünïcode ✓", repo="/src/churn", tags=["a", "b"], backup="bob")
    change = store.insert_model(m, ev(owner="alice"))
    assert change.event.id == 1 and change.event.data == {"owner": "alice"}
    assert store.get_model("churn") == m
    assert store.count_models() == 1


def test_duplicate_model_is_refused_and_writes_nothing(store: Store) -> None:
    store.insert_model(make_model(), ev())
    with pytest.raises(AlreadyExists):
        store.insert_model(make_model(owner="bob"), ev())
    assert store.get_model("churn").owner == "alice"
    assert len(store.history()) == 1


def test_unknown_model_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="no model named 'ghost'"):
        store.get_model("ghost")


def test_update_bumps_revision_and_records_event(store: Store) -> None:
    store.insert_model(make_model(), ev())
    later = T0 + timedelta(hours=1)
    change = store.update_model(
        "churn",
        expected_revision=1,
        changes={"stage": Stage.BUILD},
        event=ev("stage.moved", at=later, actor="bob", to="build"),
    )
    assert change.model.stage is Stage.BUILD
    assert change.model.revision == 2
    assert (change.model.updated_by, change.model.updated_at) == ("bob", later)
    assert store.history(limit=1)[0] == change.event


def test_stale_update_is_a_conflict_naming_who_changed_it(db_url: str, store: Store) -> None:
    store.insert_model(make_model(), ev())
    with open_store(db_url) as other, granted(other):
        other.update_model(
            "churn",
            expected_revision=1,
            changes={"owner": "carol"},
            event=ev("owner.set", actor="carol"),
        )
    with pytest.raises(Conflict, match="changed by carol") as info:
        store.update_model(
            "churn", expected_revision=1, changes={"stage": Stage.BUILD}, event=ev("stage.moved")
        )
    assert "nothing was written" in info.value.message
    assert store.get_model("churn").stage is Stage.PLAN
    assert len(store.history()) == 2


def test_state_and_event_are_one_transaction(store: Store) -> None:
    """If the event cannot be written, the state change is rolled back too."""
    store.insert_model(make_model(), ev())
    with pytest.raises(TypeError):
        store.update_model(
            "churn",
            expected_revision=1,
            changes={"stage": Stage.BUILD},
            event=ev("stage.moved", bad=object()),
        )
    m = store.get_model("churn")
    assert (m.stage, m.revision) == (Stage.PLAN, 1)
    assert len(store.history()) == 1
    with pytest.raises(TypeError):
        store.insert_model(make_model("other"), ev(model="other", bad={1, 2}))
    with pytest.raises(NotFound):
        store.get_model("other")


def test_history_is_append_only(db_url: str, store: Store) -> None:
    store.insert_model(make_model(), ev())
    for sql in ("UPDATE events SET actor = 'mallory'", "DELETE FROM events"):
        with pytest.raises(Exception, match="append-only"):
            raw_execute(db_url, sql)
    assert store.history()[0].actor == "alice"


def test_history_filters_and_order(store: Store) -> None:
    store.insert_model(make_model("a"), ev(model="a"))
    store.insert_model(make_model("b"), ev(model="b"))
    for i in range(5):
        store.update_model(
            "a",
            expected_revision=i + 1,
            changes={"iteration": i + 2},
            event=ev(
                "x", model="a", at=T0 + timedelta(days=i + 1), actor="bob" if i % 2 else "carol"
            ),
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
    assert store.last_event("a").at == T0 + timedelta(days=5)
    assert store.last_event("nobody") is None


def test_lists_and_status_rows_filter_and_sort(store: Store) -> None:
    for name, stage, owner in [
        ("zeta", "test", "bob"),
        ("alpha", "plan", "alice"),
        ("mid", "test", "alice"),
    ]:
        store.insert_model(make_model(name, stage=Stage(stage), owner=owner), ev(model=name))
    assert [m.name for m in store.list_models()] == ["alpha", "mid", "zeta"]
    assert [m.name for m in store.list_models(stage=Stage.TEST)] == ["mid", "zeta"]
    assert [r.name for r in store.status_rows(owner="alice")] == ["alpha", "mid"]
    row = store.status_rows(stage=Stage.TEST, owner="bob")[0]
    assert row == ("zeta", "test", "bob", None, None, "unknown", T0, "alice")


def test_head_moves_with_every_change(store: Store) -> None:
    assert store.head() == 0
    store.insert_model(make_model(), ev())
    first = store.head()
    store.update_model("churn", expected_revision=1, changes={"iteration": 2}, event=ev("x"))
    assert store.head() > first


def test_dump_and_load_reproduce_the_state(store: Store, tmp_path) -> None:
    store.insert_model(make_model(tags=["x"]), ev())
    store.update_model(
        "churn",
        expected_revision=1,
        changes={"stage": Stage.BUILD},
        event=ev("stage.moved", at=T0 + timedelta(seconds=1), to="build"),
    )
    records = list(store.dump())
    with open_store(str(tmp_path / "copy.db")) as copy, granted(copy):
        by_kind: dict[str, list] = {}
        for kind, row in records:
            by_kind.setdefault(kind, []).append(row)
        copy.load(by_kind)
        assert list(copy.dump()) == records
        # ids continue after the imported ones
        change = copy.update_model(
            "churn", expected_revision=2, changes={"iteration": 2}, event=ev("x")
        )
        assert change.event.id == 3
    with pytest.raises(Conflict, match="not empty"):
        store.load({})


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
            s.load({"event": [row]})
            s.insert_model(make_model(), ev())
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
    store.insert_model(m, ev())
    assert replace(store.get_model("churn"), owner="x") != store.get_model("churn")


@pytest.mark.gated
def test_the_store_writes_nothing_without_a_grant_from_the_gate(store: Store) -> None:
    """A use case that forgot the gate fails at once, whatever it tried to write."""
    with pytest.raises(UngatedWrite, match="without a grant"):
        store.insert_model(make_model(), ev())
    with pytest.raises(UngatedWrite):
        store.append_event(ev("note"))
    with pytest.raises(UngatedWrite):
        store.load({})
    assert store.count_models() == 0 and store.history() == []


@pytest.mark.gated
def test_a_grant_covers_only_its_actor_its_models_and_its_kinds(store: Store) -> None:
    with store.acting(Grant("alice", "create")):
        store.insert_model(make_model(), ev())
        with pytest.raises(UngatedWrite, match="by 'bob' under a grant for 'alice'"):
            store.append_event(ev("x", actor="bob"))
    pending = Grant("alice", "deploy", models=set(), pending=True)
    with store.acting(pending):
        with pytest.raises(UngatedWrite, match="never checked"):
            store.append_event(ev("deploy.started"))
        pending.pending = False
        pending.models = {"fraud"}
        with pytest.raises(UngatedWrite, match="an event of 'churn'"):
            store.append_event(ev("deploy.started"))
    with store.acting(Grant("alice", "refusal", kinds=frozenset({"permission.denied"}))):
        store.append_event(ev("permission.denied"))
        with pytest.raises(UngatedWrite, match=r"a stage\.moved event"):
            store.append_event(ev("stage.moved"))
    assert [e.kind for e in store.history()] == ["permission.denied", "model.created"]
    with pytest.raises(UngatedWrite):
        store.append_event(ev("x"))  # the grants ended with their blocks
