"""The MLflow bridge against real MLflow: a local registry written by mlflow-skinny and a
real `mlflow server`, on both backends."""

from __future__ import annotations

import uuid

import pytest

from mlops_tui.adapters.mlflow_registry import open_registry
from mlops_tui.domain import Stage
from mlops_tui.errors import InvalidInput, NotFound, PermissionDenied, RegistryUnreachable
from mlops_tui.services import deploys, lifecycle, mlflow_bridge, queries, relays
from mlops_tui.services.context import Context
from mlops_tui.services.replay import replay
from mlops_tui.store import schema
from tests.conftest import known
from tests.loop_model import serving, toml  # noqa: F401 - serving is a fixture
from tests.mlflowstack import add_version, move_alias, seed
from tests.services.test_deploys import to_deploy


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def _model_state(ctx: Context, name: str) -> dict:
    m = ctx.store.get_model(name)
    return {
        "stage": str(m.stage),
        "owner": m.owner,
        "version": m.version,
        "production_version": m.production_version,
    }


def _replayed(ctx: Context, name: str) -> dict:
    state = replay(ctx.store.replay_events(model=name))[name]
    return {k: state[k] for k in ("stage", "owner", "version", "production_version")}


def _alias(uri: str, rm: str, alias: str) -> str | None:
    registry = open_registry(uri)
    try:
        return registry.registered_models([rm])[0].aliases.get(alias)
    finally:
        registry.close()


def test_import_brings_every_model_with_versions_runs_and_production(
    ctx: Context, mlflow_local: str
) -> None:
    seed(mlflow_local, "Iris Classifier", 3, aliases={"production": 2, "champion": 3})
    seed(mlflow_local, "churn", 2, stage={1: "Production"}, author="bob")
    seed(mlflow_local, "fraud", 1)

    report = mlflow_bridge.import_registry(ctx, mlflow_local)

    assert sorted(p.name for p in report.plans) == ["churn", "fraud", "iris-classifier"]
    iris = ctx.store.get_model("iris-classifier")
    assert (iris.stage, iris.version, iris.production_version) == (Stage.MONITOR, 3, 2)
    assert iris.owner == "alice"
    churn = ctx.store.get_model("churn")
    assert (churn.stage, churn.production_version) == (Stage.MONITOR, 1)  # the Production stage
    fraud = ctx.store.get_model("fraud")
    assert (fraud.stage, fraud.version, fraud.production_version) == (Stage.TEST, 1, None)

    versions = ctx.store.rows(schema.VERSIONS, model="iris-classifier", order="number")
    assert [v.number for v in versions] == [1, 2, 3]
    v2 = versions[1]
    assert v2.data_ref is not None and v2.data_ref.startswith("runs:/")
    assert v2.params == {"lr": "0.02", "depth": "2"}
    assert v2.commit is not None and len(v2.commit) == 40
    found = queries.mlflow_versions(ctx, "iris-classifier")[0]
    assert found[2].author == "alice" and found[2].run_id
    assert found[2].metrics["accuracy"] == pytest.approx(0.92)  # the final value, not the first
    assert queries.mlflow_versions(ctx, "iris-classifier")[1] == {
        2: ["production"],
        3: ["champion"],
    }
    assert queries.mlflow_versions(ctx, "churn")[0][1].author == "bob"

    events = ctx.store.history(model="iris-classifier")
    assert {e.actor for e in events} == {"alice"}
    kinds = [e.kind for e in reversed(events)]
    assert kinds == ["model.created"] + ["mlflow.version"] * 3 + ["mlflow.imported"]
    imported = events[0].data
    assert imported["registered_model"] == "Iris Classifier"
    assert imported["production_version"] == 2 and imported["tracking_uri"] == mlflow_local
    assert all(e.data["run_id"] for e in events if e.kind == "mlflow.version")
    for name in ("iris-classifier", "churn", "fraud"):
        assert _replayed(ctx, name) == _model_state(ctx, name), "the history tells it all"
    # production that came from MLflow is watched: its monitoring clock runs
    assert ctx.store.monitoring("iris-classifier")["stale_at"] is not None


def test_a_second_import_changes_nothing(ctx: Context, mlflow_local: str) -> None:
    seed(mlflow_local, "churn", 2, aliases={"production": 1})
    mlflow_bridge.import_registry(ctx, mlflow_local)
    head = ctx.store.head()

    again = mlflow_bridge.import_registry(ctx, mlflow_local)

    assert ctx.store.head() == head and again.events == 0
    assert [p.changes for p in again.plans] == [False]


def test_dry_run_writes_nothing(ctx: Context, mlflow_local: str) -> None:
    seed(mlflow_local, "churn", 2, aliases={"production": 2})
    head = ctx.store.head()
    report = mlflow_bridge.plan_import(ctx, mlflow_local)
    assert ctx.store.head() == head and ctx.store.model_names() == []
    (plan,) = report.plans
    assert (plan.name, plan.production, len(plan.versions)) == ("churn", 2, 2)


def test_sync_brings_new_versions_and_alias_moves_but_not_production(
    ctx: Context, mlflow_local: str
) -> None:
    seed(mlflow_local, "churn", 2, aliases={"production": 1, "challenger": 2})
    mlflow_bridge.import_registry(ctx, mlflow_local)
    add_version(mlflow_local, "churn")
    move_alias(mlflow_local, "churn", "production", 3)

    (report,) = mlflow_bridge.sync(ctx)

    model = ctx.store.get_model("churn")
    assert (model.version, model.production_version) == (3, 1)
    (plan,) = report.plans
    assert plan.drift is not None and "v3" in plan.drift
    new = [e for e in ctx.store.history(model="churn", limit=3)]
    moved = [e for e in new if e.kind == "mlflow.alias_moved"]
    assert [(e.data["alias"], e.data["version_from"], e.data["version_to"]) for e in moved] == [
        ("production", 1, 3)
    ]
    assert any(e.kind == "mlflow.version" and e.data["version"] == 3 for e in new)
    assert _replayed(ctx, "churn") == _model_state(ctx, "churn")
    head = ctx.store.head()
    mlflow_bridge.sync(ctx, "churn")
    assert ctx.store.head() == head, "nothing is written twice"


def test_names_that_cannot_be_models_here_are_refused_with_the_list(
    ctx: Context, mlflow_local: str
) -> None:
    seed(mlflow_local, "模型", 1)
    seed(mlflow_local, "Churn", 1)
    seed(mlflow_local, "churn!", 1)
    seed(mlflow_local, "fine", 1)
    with pytest.raises(InvalidInput) as refused:
        mlflow_bridge.import_registry(ctx, mlflow_local)
    message = refused.value.cli_message
    assert "'模型' has no name here" in message
    assert "'churn!' and 'Churn' would both be churn" in message
    assert "\n" not in message
    assert ctx.store.model_names() == [], "nothing of the import was written"
    mlflow_bridge.import_registry(ctx, mlflow_local, models=["fine", "Churn"])
    assert ctx.store.model_names() == ["churn", "fine"]


def test_a_model_here_of_the_same_name_is_not_taken_over(ctx: Context, mlflow_local: str) -> None:
    lifecycle.add_model(ctx, "churn", owner="alice")
    seed(mlflow_local, "churn", 1)
    with pytest.raises(InvalidInput, match="a model here that is not linked to it"):
        mlflow_bridge.import_registry(ctx, mlflow_local)


def test_an_unknown_registered_model_is_named(ctx: Context, mlflow_local: str) -> None:
    seed(mlflow_local, "churn", 1)
    with pytest.raises(NotFound, match=r"'chrun'.*did you mean 'churn'"):
        mlflow_bridge.import_registry(ctx, mlflow_local, models=["chrun"])


def test_an_unreachable_server_is_one_line_and_exit_4(ctx: Context) -> None:
    with pytest.raises(RegistryUnreachable) as err:
        mlflow_bridge.import_registry(ctx, "http://127.0.0.1:9")
    assert err.value.exit_code == 4 and "\n" not in err.value.cli_message
    assert ctx.store.model_names() == []


def test_a_viewer_may_not_import_and_the_refusal_is_recorded(
    ctx: Context, mlflow_local: str
) -> None:
    known(ctx, "vic", role="viewer")
    seed(mlflow_local, "churn", 1)
    with pytest.raises(PermissionDenied):
        mlflow_bridge.import_registry(Context(ctx.store, "vic"), mlflow_local)
    assert ctx.store.history(limit=1)[0].kind == "permission.denied"
    assert ctx.store.model_names() == []


def test_a_deploy_here_moves_the_alias_there_through_an_outage(
    ctx: Context, mlflow_private
) -> None:
    """MLflow is down when production moves: the deploy succeeds, the push waits; once
    MLflow is back, the alias lands once, as the deployer's."""
    uri = mlflow_private.url
    rm = _unique("Churn")
    seed(uri, rm, 3, aliases={"production": 1})
    mlflow_bridge.import_registry(ctx, uri)
    name = mlflow_bridge.plan_sync(ctx)[0].plans[0].name
    mlflow_private.stop()

    deploys.record(ctx, name, version=2)
    relays.after_write(ctx)  # what every writing command does after it is done

    assert ctx.store.get_model(name).production_version == 2
    (waiting,) = mlflow_bridge.status(ctx)[0].waiting
    assert (waiting.version, waiting.mlflow_version, waiting.attempts) == (2, "2", 1)
    assert waiting.last_error and "\n" not in waiting.last_error

    deploys.record(ctx, name, version=3)  # a second deploy while down: only it will go out
    relays.after_write(ctx)
    mlflow_private.start()
    pushed = mlflow_bridge.push(ctx, retry_now=True)

    assert [(p.version, p.status) for p in pushed] == [(3, "done")]
    assert _alias(uri, rm, "production") == "3"
    statuses = [p.status for p in ctx.store.rows(schema.MLFLOW_PUSHES, model=name, order="id")]
    assert statuses == ["superseded", "done"]
    (event,) = [e for e in ctx.store.history(model=name) if e.kind == "mlflow.alias_set"]
    assert event.actor == "alice" and event.data["mlflow_version"] == "3"
    head = ctx.store.head()
    assert mlflow_bridge.push(ctx, retry_now=True) == [] and ctx.store.head() == head
    # and MLflow's alias now agrees with production here: a sync records no move
    mlflow_bridge.sync(ctx, name)
    assert not [e for e in ctx.store.history(model=name, limit=3) if e.kind == "mlflow.alias_moved"]


def test_a_rollback_moves_the_alias_back(ctx: Context, mlflow_server) -> None:
    uri = mlflow_server.url
    rm = _unique("Fraud")
    seed(uri, rm, 2, aliases={"production": 1})
    mlflow_bridge.import_registry(ctx, uri, models=[rm])
    name = next(p.name for r in mlflow_bridge.plan_sync(ctx) for p in r.plans)
    deploys.record(ctx, name, version=2)
    relays.after_write(ctx)
    assert _alias(uri, rm, "production") == "2"
    deploys.record(ctx, name, version=1)  # what `record deploy` of the old one does
    relays.after_write(ctx)
    assert _alias(uri, rm, "production") == "1"


def test_a_real_deploy_of_a_version_built_from_a_models_uri_sets_the_alias(
    ctx: Context,
    mlflow_server,
    serving,  # noqa: F811
) -> None:
    """The whole way: a version built here from `models:/RM/2`, tested and deployed to a
    container, moves the link's alias to MLflow's version 2; a version built from
    something else cannot, and says why."""
    uri = mlflow_server.url
    rm = "ranker-" + uuid.uuid4().hex[:8]
    seed(uri, rm, 2)
    data = f'[data]\nref = "models:/{rm}/2"\n'
    name = to_deploy(ctx, serving, toml_text=toml(serving.port, extra=data))
    mlflow_bridge.link(ctx, name, uri, registered_model=rm, alias="live")

    deploys.deploy(ctx, name)
    relays.after_write(ctx)

    assert _alias(uri, rm, "live") == "2"
    (event,) = [e for e in ctx.store.history(model=name) if e.kind == "mlflow.alias_set"]
    assert (event.actor, event.data["version"], event.data["alias"]) == ("alice", 1, "live")

    lifecycle.move(ctx, name, "monitor")
    name = to_deploy(ctx, serving)  # v2: built from no models:/ reference
    deploys.deploy(ctx, name)
    relays.after_write(ctx)
    (failed,) = mlflow_bridge.status(ctx)[0].failed
    assert "v2 is no version of" in (failed.last_error or "")
    assert _alias(uri, rm, "live") == "2", "MLflow's alias is left where it was"


def test_link_needs_the_registered_model_and_a_responsible_person(
    ctx: Context, mlflow_server
) -> None:
    lifecycle.add_model(ctx, "ranker", owner="alice")
    with pytest.raises(NotFound, match="no registered model"):
        mlflow_bridge.link(ctx, "ranker", mlflow_server.url, registered_model=_unique("nope"))
    known(ctx, "nora", role="member")
    with pytest.raises(PermissionDenied):
        mlflow_bridge.link(Context(ctx.store, "nora"), "ranker", mlflow_server.url)
    with pytest.raises(InvalidInput, match="alias"):
        mlflow_bridge.link(ctx, "ranker", mlflow_server.url, alias="latest")


def test_an_export_carries_the_bridge_to_the_other_backend(
    ctx: Context, mlflow_local: str, pg_server: str, tmp_path
) -> None:
    import io

    from mlops_tui.services import audit, transfer
    from mlops_tui.store import open_store
    from tests.conftest import drop_pg_schema, new_pg_schema

    seed(mlflow_local, "churn", 2, aliases={"production": 2})
    mlflow_bridge.import_registry(ctx, mlflow_local)
    deploys.record(ctx, "churn", version=1)
    relays.after_write(ctx)
    assert _alias(mlflow_local, "churn", "production") == "1"
    out = io.StringIO()
    transfer.export(ctx, out)
    schema_name, pg_url = new_pg_schema(pg_server)
    target = open_store(pg_url if ctx.store.backend == "sqlite" else str(tmp_path / "b.db"))
    try:
        there = Context(target, "alice")
        counts = transfer.import_(there, io.StringIO(out.getvalue()), "f")
        assert counts["mlflow_links"] == 1 and counts["mlflow_versions"] == 2
        assert queries.mlflow_versions(there, "churn")[0][2].metrics == (
            queries.mlflow_versions(ctx, "churn")[0][2].metrics
        )
        assert audit.verify(there).intact
        # the deployment pushed before the export is not pushed again from the copy
        assert mlflow_bridge.enqueue(there) == 0
    finally:
        target.close()
        drop_pg_schema(pg_server, schema_name)


@pytest.fixture
def mlflow_on_postgresql(pg_server: str, monkeypatch: pytest.MonkeyPatch):
    """A local MLflow registry in a PostgreSQL database of its own; its password comes from
    PGPASSWORD, as the bridge asks (never in the URI)."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(pg_server)
    database = "mlflow_" + uuid.uuid4().hex[:10]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    monkeypatch.setenv("PGPASSWORD", parts.password or "")
    try:
        yield f"postgresql+psycopg://{parts.username}@{parts.hostname}:{parts.port}/{database}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def test_a_registry_kept_in_postgresql_imports_and_takes_the_alias(
    ctx: Context, mlflow_on_postgresql: str
) -> None:
    uri = mlflow_on_postgresql
    seed(uri, "Churn Model", 2, aliases={"production": 1})
    mlflow_bridge.import_registry(ctx, uri)
    assert ctx.store.get_model("churn-model").production_version == 1
    deploys.record(ctx, "churn-model", version=2)
    relays.after_write(ctx)
    assert _alias(uri, "Churn Model", "production") == "2"


def test_two_syncs_at_once_write_each_fact_once(
    ctx: Context, db_url: str, mlflow_local: str
) -> None:
    """Both read MLflow before either writes (each waits for the other when it closes the
    registry); the second to write finds the first's versions and alias moves already in."""
    import threading

    from mlops_tui.adapters.mlflow_registry import Registry
    from mlops_tui.store import open_store

    seed(mlflow_local, "churn", 1, aliases={"production": 1})
    mlflow_bridge.import_registry(ctx, mlflow_local)
    add_version(mlflow_local, "churn")
    move_alias(mlflow_local, "churn", "champion", 2)
    both_read = threading.Barrier(2, timeout=30)

    class Waiting(Registry):
        def __init__(self, inner: Registry) -> None:
            self.inner, self.uri = inner, inner.uri

        def registered_models(self, names=None):
            return self.inner.registered_models(names)

        def versions(self, name):
            return self.inner.versions(name)

        def runs(self, run_ids):
            return self.inner.runs(run_ids)

        def set_alias(self, name, alias, version):
            self.inner.set_alias(name, alias, version)

        def close(self) -> None:
            self.inner.close()
            both_read.wait()

    errors: list[BaseException] = []

    def one() -> None:
        store = open_store(db_url)
        try:
            mlflow_bridge.sync(Context(store, "alice"), opener=lambda u: Waiting(open_registry(u)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    kinds = [e.kind for e in ctx.store.history(model="churn", limit=10)]
    assert kinds.count("mlflow.version") == 2, "v1 at import, v2 once"
    assert kinds.count("mlflow.alias_moved") == 1
    assert ctx.store.get_model("churn").version == 2
