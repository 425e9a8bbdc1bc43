"""`mlops serve` through aiohttp's test client, on both backends: tokens, /metrics, the
Alertmanager and CI hooks, and what a wrong request gets (and never writes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from mlops_tui.server.app import Settings, make_app
from mlops_tui.services import builds, deploys, handoffs, lifecycle, team, tokens
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from tests.conftest import known

SHA = "a" * 40


def firing(model: str = "churn", *, status: str = "firing", fp: str = "f1", **labels: str):
    """An Alertmanager notification (webhook version 4) with one alert."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ModelDrift"}',
        "status": status,
        "receiver": "mlops",
        "groupLabels": {"alertname": "ModelDrift"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "ModelDrift", "model": model, **labels},
                "annotations": {"summary": "drift score 0.8 over 0.5", "value": "0.8"},
                "startsAt": "2026-12-07T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph",
                "fingerprint": fp,
            }
        ],
    }


class Team:
    """A team on one backend: root (admin), ci (a bot member), vic (a viewer), olly (a
    member who owns churn); a token for each."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.store = open_store(url)
        root = Context(self.store, "root")
        team.add_user(root, "root", role="admin")
        team.add_user(root, "ci", role="member", bot=True)
        team.add_user(root, "vic", role="viewer")
        known(root, "olly", role="member")
        lifecycle.add_model(root, "churn", owner="olly")
        self.secret = {who: tokens.create(root, f"{who}-token", for_user=who)[1] for who in
                       ("ci", "vic", "olly", "root")}  # fmt: skip
        self.root = root

    def auth(self, who: str = "ci") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret[who]}"}

    def state(self) -> tuple[list[Any], list[tuple[str, str | None, str]]]:
        """Everything but the tokens' last use, and the history as (actor, model, kind)."""
        rows = [(k, r) for k, r in self.store.dump() if k != "token"]
        events = [(r["actor"], r["model"], r["kind"]) for k, r in rows if k == "event"]
        return [r for r in rows if r[0] != "event"], events


@pytest.fixture
async def served(db_url: str) -> AsyncIterator[tuple[TestClient[Any, Any], Team]]:
    crew = Team(db_url)
    app = make_app(Settings(open_store=lambda: open_store(db_url)))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client, crew
    finally:
        await client.close()
        crew.store.close()


async def post(client: TestClient[Any, Any], path: str, body: Any, **headers: str) -> Any:
    headers.setdefault("Content-Type", "application/json")
    return await client.post(path, data=json.dumps(body), headers=headers)


# -- tokens ------------------------------------------------------------------------------------
async def test_healthz_needs_no_token_and_the_rest_needs_a_valid_one(served) -> None:
    client, crew = served
    assert (await client.get("/healthz")).status == 200
    before = crew.state()
    for headers in ({}, {"Authorization": "Bearer mlops_wrong"}, {"Authorization": "Basic x"}):
        for method, path in (("GET", "/metrics"), ("POST", "/hooks/alertmanager")):
            got = await client.request(method, path, headers=headers, json=firing())
            assert got.status == 401, (method, path, headers)
            assert got.headers["WWW-Authenticate"].startswith("Bearer")
            assert list((await got.json()).keys()) == ["error"]
    assert crew.state() == before, "a request without a valid token wrote something"


async def test_a_revoked_token_or_a_deactivated_person_is_401(served) -> None:
    client, crew = served
    assert (await client.get("/metrics", headers=crew.auth("olly"))).status == 200
    tokens.revoke(crew.root, "olly-token")
    assert (await client.get("/metrics", headers=crew.auth("olly"))).status == 401
    assert (await client.get("/metrics", headers=crew.auth("vic"))).status == 200
    team.deactivate(crew.root, "vic")
    assert (await client.get("/metrics", headers=crew.auth("vic"))).status == 401


def test_a_token_is_stored_as_a_hash_and_marked_used(ctx: Context) -> None:
    known(ctx, "alice", role="admin")
    _, secret = tokens.create(ctx, "ci", for_user="alice")
    rows = list(ctx.store.dump())
    assert secret not in json.dumps([r for _, r in rows], default=str)
    assert tokens.authenticate(ctx.store, secret) is not None
    assert ctx.store.row(schema.TOKENS, name="ci").last_used_at is not None
    assert tokens.authenticate(ctx.store, secret + "x") is None
    with pytest.raises(Exception, match="exists already"):
        tokens.create(ctx, "ci", for_user="alice")


# -- /metrics --------------------------------------------------------------------------------
def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_show_where_each_model_stands(served) -> None:
    client, crew = served
    root = crew.root
    known(root, "mia")
    lifecycle.add_model(root, "fraud", owner="mia")
    lifecycle.move(root, "churn", "build")
    builds.record(root, "churn", commit=SHA, image="reg/churn:1")
    deploys.record(root, "churn", version=1)
    handoffs.request(root, "fraud", to="olly")
    team.deactivate(root, "mia")  # fraud is orphaned
    await post(client, "/hooks/alertmanager", firing(), **crew.auth())

    got = await client.get("/metrics", headers=crew.auth("vic"))  # a viewer may read
    assert got.status == 200
    assert got.headers["Content-Type"].startswith("text/plain")
    s = samples(await got.text())

    def one(name: str, model: str, **labels: str) -> float:
        return s[(f"mlops_model_{name}", frozenset({"model": model, **labels}.items()))]

    assert one("stage", "churn", stage="build") == 1
    assert one("production_version", "churn") == 1
    assert one("open_alerts", "churn") == 1
    assert one("open_alerts", "fraud") == 0
    assert one("orphaned", "fraud") == 1 and one("orphaned", "churn") == 0
    assert one("pending_handoffs", "fraud") == 1
    assert one("last_deploy_timestamp_seconds", "churn") > 1.7e9
    assert one("info", "churn", owner="olly", backup="") == 1
    assert ("mlops_model_production_version", frozenset({"model": "fraud"}.items())) not in s


# -- /hooks/alertmanager -----------------------------------------------------------------------
async def test_an_alert_opens_once_and_resolves_as_the_token_s_person(served) -> None:
    client, crew = served
    got = await post(client, "/hooks/alertmanager", firing(), **crew.auth())
    assert got.status == 200
    opened = (await got.json())["opened"]
    assert len(opened) == 1
    for _ in range(3):  # Alertmanager repeats a firing alert
        again = await (await post(client, "/hooks/alertmanager", firing(), **crew.auth())).json()
        assert again["opened"] == [] and again["repeated"] == 1
    alerts = crew.store.rows(schema.ALERTS, model="churn")
    assert [(a.metric, a.status, a.fingerprint) for a in alerts] == [("ModelDrift", "open", "f1")]
    resolved = await post(client, "/hooks/alertmanager", firing(status="resolved"), **crew.auth())
    assert (await resolved.json())["resolved"] == opened
    assert crew.store.rows(schema.ALERTS, model="churn")[0].status == "resolved"
    _, events = crew.state()
    assert [e for e in events if e[2].startswith("alert.")] == [
        ("ci", "churn", "alert.opened"),
        ("ci", "churn", "alert.resolved"),
    ]
    # fired again after resolving: a new alert
    again = await (await post(client, "/hooks/alertmanager", firing(), **crew.auth())).json()
    assert len(again["opened"]) == 1 and again["opened"] != opened


async def test_each_series_a_rule_fires_for_is_an_alert_of_its_own(served) -> None:
    """One rule, two series of one model (two pods): each opens, repeats and resolves on
    its own, whatever the order within a notification, so the model stays alerted while
    either one fires."""
    client, crew = served

    async def send(*alerts: tuple[str, str]) -> dict[str, Any]:
        body = firing()
        body["alerts"] = [firing(status=s, fp=fp, pod=fp)["alerts"][0] for fp, s in alerts]
        return await (await post(client, "/hooks/alertmanager", body, **crew.auth())).json()

    first = await send(("a1", "firing"))
    second = await send(("a1", "firing"), ("a2", "firing"))
    assert len(first["opened"]) == 1 and len(second["opened"]) == 1
    assert second["repeated"] == 1
    gone = await send(("a2", "firing"), ("a1", "resolved"))
    assert gone["resolved"] == first["opened"] and gone["repeated"] == 1
    (still,) = [a for a in crew.store.rows(schema.ALERTS, model="churn") if a.status == "open"]
    assert still.fingerprint == "a2"
    assert (await send(("a2", "resolved")))["resolved"] == second["opened"]


async def test_a_firing_alert_sends_a_drifting_model_back_to_plan(served, gitrepo) -> None:
    client, crew = served
    root = crew.root
    sha = gitrepo.commit("monitor", **{"mlops.toml": '[monitor]\non_drift = "plan"\n'})
    lifecycle.add_model(root, "drifty", owner="olly", repo=str(gitrepo.path))
    lifecycle.move(root, "drifty", "build")
    builds.record(root, "drifty", commit=sha, image="reg/drifty:1")
    lifecycle.move(root, "drifty", "monitor", force=True, note="deployed by the release train")
    deploys.record(root, "drifty", version=1)
    # A rule that says it is no drift ("no check for a day") only opens its alert.
    unchecked = firing("drifty", fp="u1", on_drift="alert", alertname="ModelUnchecked")
    got = await (await post(client, "/hooks/alertmanager", unchecked, **crew.auth())).json()
    assert len(got["opened"]) == 1 and got["moved_to_plan"] == []
    assert crew.store.get_model("drifty").stage == "monitor"
    got = await (await post(client, "/hooks/alertmanager", firing("drifty"), **crew.auth())).json()
    assert got.get("moved_to_plan") == ["drifty"], got
    model = crew.store.get_model("drifty")
    assert model.stage == "plan" and model.production_version == 1
    moved = crew.store.rows(schema.EVENTS, model="drifty", kind="stage.moved", limit=1)[0]
    assert moved.actor == "ci" and "ModelDrift" in moved.data["note"]


async def test_an_unknown_model_or_a_bad_payload_is_400_and_writes_nothing(served) -> None:
    client, crew = served
    before = crew.state()
    two = firing()
    two["alerts"].append(firing("nope")["alerts"][0])  # one good, one unknown: neither lands
    bad: list[Any] = [
        two,
        firing("Not A Name"),
        {**firing(), "version": "3"},
        {**firing(), "alerts": []},
        {**firing(), "alerts": [{"status": "firing"}]},
        [1, 2],
        "firing",
    ]
    for body in bad:
        got = await post(client, "/hooks/alertmanager", body, **crew.auth())
        assert got.status == 400, body
        reason = (await got.json())["error"]
        assert "\n" not in reason and reason
    got = await client.post(
        "/hooks/alertmanager",
        data=b"{not json",
        headers={**crew.auth(), "Content-Type": "application/json"},
    )
    assert got.status == 400
    assert crew.state() == before


async def test_a_viewer_is_refused_and_the_refusal_is_recorded(served) -> None:
    client, crew = served
    rows, events = crew.state()
    got = await post(client, "/hooks/alertmanager", firing(), **crew.auth("vic"))
    assert got.status == 403
    assert "may not" in (await got.json())["error"]
    after, latest = crew.state()
    assert after == rows
    assert latest[len(events) :] == [("vic", None, "permission.denied")]


async def test_too_big_or_not_json_is_refused(served) -> None:
    client, crew = served
    before = crew.state()
    big = await client.post(
        "/hooks/ci",
        data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={**crew.auth(), "Content-Type": "application/json"},
    )
    assert big.status == 413
    plain = await client.post(
        "/hooks/alertmanager",
        data=json.dumps(firing()),
        headers={**crew.auth(), "Content-Type": "text/plain"},
    )
    assert plain.status == 415 and "application/json" in (await plain.json())["error"]
    assert crew.state() == before


# -- /hooks/ci ---------------------------------------------------------------------------------
async def test_ci_records_a_build_a_test_run_and_a_deployment(served) -> None:
    client, crew = served
    build = await post(
        client,
        "/hooks/ci",
        {"record": "build", "model": "churn", "commit": SHA, "image": "reg/churn:7",
         "url": "https://ci.example.com/run/1"},
        **crew.auth(),
    )  # fmt: skip
    assert build.status == 201, await build.text()
    assert (await build.json())["version"] == 1
    junit = '<testsuite tests="2" failures="0"><testcase name="a"/><testcase name="b"/></testsuite>'
    test = await post(
        client,
        "/hooks/ci",
        {"record": "test", "model": "churn", "version": 1, "passed": True, "junit": junit},
        **crew.auth(),
    )
    assert test.status == 201 and (await test.json())["status"] == "passed"
    # ci is a member who is not responsible for churn: deploying is olly's
    refused = await post(
        client, "/hooks/ci", {"record": "deploy", "model": "churn", "version": 1}, **crew.auth()
    )
    assert refused.status == 403
    deploy = await post(
        client,
        "/hooks/ci",
        {"record": "deploy", "model": "churn", "version": 1},
        **crew.auth("olly"),
    )
    assert deploy.status == 201
    assert crew.store.get_model("churn").production_version == 1
    kinds = {(a, k) for a, m, k in crew.state()[1] if m == "churn"}
    assert {("ci", "build.recorded"), ("ci", "test.recorded"), ("olly", "deploy.finished")} <= kinds


@pytest.mark.parametrize(
    "body",
    [
        {"record": "bake", "model": "churn"},
        {"record": "build", "model": "churn", "image": "x"},
        {"record": "build", "model": "churn", "commit": "zz", "image": "x"},
        {"record": "test", "model": "churn", "version": True, "passed": True},
        {"record": "test", "model": "churn", "version": 1, "passed": True, "extra": 1},
        {"record": "test", "model": "ghost", "version": 1, "passed": True},
        {"record": "deploy", "model": "churn", "version": 1, "url": "file:///etc/passwd"},
    ],
)
async def test_ci_validates_like_the_cli(served, body: dict[str, Any]) -> None:
    client, crew = served
    before = crew.state()
    got = await post(client, "/hooks/ci", body, **crew.auth("root"))
    assert got.status == 400, (body, await got.text())
    assert crew.state() == before


# -- the database going away -------------------------------------------------------------------
async def test_an_unreachable_database_is_503_in_one_line(tmp_path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    client = TestClient(TestServer(make_app(Settings(open_store=lambda: open_store(url)))))
    await client.start_server()
    try:
        for path in ("/healthz", "/metrics"):
            got = await client.get(path, headers={"Authorization": "Bearer mlops_x"})
            assert got.status == 503
            assert "127.0.0.1" in (await got.json())["error"]
    finally:
        await client.close()


def test_a_scrape_after_changes_reads_as_a_first_scrape_would(ctx: Context) -> None:
    """The exposition keeps each model's formatted lines and formats only what changed: what
    it serves must be exactly what a server started now would serve."""
    from mlops_tui.services.exporter import Exposition

    known(ctx, "olly", "mia")
    for name in ("a-model", "b-model", "c-model"):
        lifecycle.add_model(ctx, name, owner="olly")
    kept = Exposition()
    first = kept.render(ctx)
    assert first == Exposition().render(ctx)
    lifecycle.move(ctx, "b-model", "build")
    builds.record(ctx, "b-model", commit=SHA, image="reg/b:1")
    deploys.record(ctx, "b-model", version=1)
    lifecycle.add_model(ctx, "aa-model", owner="mia")
    team.deactivate(ctx, "mia")
    second = kept.render(ctx)
    assert second != first
    assert second == Exposition().render(ctx)
    text = second.decode()
    assert 'mlops_model_production_version{model="b-model"} 1.0' in text
    assert 'mlops_model_orphaned{model="aa-model"} 1.0' in text
    assert text.index('model="aa-model"') < text.index('model="b-model"')  # by name

    # Each kind of change, one scrape after another: what the history names, what a check
    # changes without an event, and what time alone changes (staleness).
    from datetime import timedelta

    from mlops_tui.domain import Health
    from mlops_tui.services import gate, monitoring

    def check(name: str, health: Health = Health.OK, ago: timedelta = timedelta(0)) -> None:
        then = Context(ctx.store, ctx.actor, clock=lambda: ctx.clock() - ago)
        with gate.acting(then, "check", name):
            at = then.clock()
            monitoring.record(
                then, name, version=1, health=health, ok=True, detail="", results=[],
                stale_at=at + timedelta(hours=1),
            )  # fmt: skip

    later = Context(ctx.store, ctx.actor, clock=lambda: ctx.clock() + timedelta(hours=2))
    steps = [
        lambda: check("b-model"),  # health ok → ok after the first: no event at all
        lambda: check("b-model"),
        lambda: check("b-model", Health.WARN),
        lambda: lifecycle.move(ctx, "c-model", "build"),
        lambda: team.reactivate(ctx, "mia"),
        lambda: handoffs.request(ctx, "c-model", to="mia"),
        lambda: lifecycle.set_role(ctx, "aa-model", "olly", role="backup"),
    ]
    for step in steps:
        step()
        assert kept.render(ctx) == Exposition().render(ctx)
    # b-model's last check was an hour ago (it goes stale in two hours' time), and another
    # model was checked since: only the passing of time changes b-model's health
    check("b-model", Health.WARN, ago=timedelta(hours=1))
    check("a-model")
    assert kept.render(ctx) == Exposition().render(ctx)
    # two hours on, b-model's last check is past its max age: stale, without any write
    assert kept.render(later) == Exposition().render(later)
    assert 'mlops_model_health{health="stale",model="b-model"} 1.0' in kept.render(later).decode()
    assert kept.render(ctx) == Exposition().render(ctx)


async def test_alerts_from_alertmanager_reach_the_webhooks(served) -> None:
    """Like any other event: the server's relay delivers them, off the request's path."""
    import asyncio

    from mlops_tui.services import webhooks
    from tests.receiver import Receiver

    client, crew = served
    receiver = Receiver().start()
    try:
        webhooks.add(crew.root, receiver.url, events="alert")
        assert (await post(client, "/hooks/alertmanager", firing(), **crew.auth())).status == 200
        for _ in range(150):
            if receiver.received:
                break
            await asyncio.sleep(0.1)
        (delivery,) = receiver.received
        assert delivery["body"]["kind"] == "alert.opened" and delivery["body"]["actor"] == "ci"
    finally:
        receiver.stop()
