"""Webhooks: signed POSTs to a real receiver that goes down and comes back; nothing is lost,
nothing is doubled, order is kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from mlops_tui.errors import InvalidInput, NotFound
from mlops_tui.services import lifecycle, webhooks
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from tests.conftest import known
from tests.receiver import Receiver

SECRET = "s3cret-for-tests"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    r = Receiver(secret=SECRET).start()
    try:
        yield r
    finally:
        r.stop()


def test_events_made_while_the_receiver_is_down_arrive_later_in_order_once(ctx, receiver):
    hook = webhooks.add(ctx, receiver.url, events="model,stage", secret_env="HOOK_SECRET")
    lifecycle.add_model(ctx, "churn", owner="alice")
    lifecycle.move(ctx, "churn", "build")
    report = webhooks.deliver(ctx)
    assert (report.delivered, report.failed, report.pending) == (2, 0, 0)
    assert receiver.kinds() == ["model.created", "stage.moved"]
    first = receiver.received[0]
    assert first["headers"]["X-Mlops-Event"] == "model.created"
    assert first["headers"]["X-Mlops-Event-Id"] == str(first["body"]["id"])
    assert first["body"]["model"] == "churn" and first["body"]["actor"] == "alice"
    assert receiver.bad_signatures == 0

    receiver.stop()
    lifecycle.move(ctx, "churn", "plan", note="wrong data")
    known(ctx, "bob")
    lifecycle.set_role(ctx, "churn", "bob")  # owner.set: not asked for
    lifecycle.move(ctx, "churn", "build")
    lifecycle.move(ctx, "churn", "plan", note="still wrong")
    report = webhooks.deliver(ctx)
    assert (report.delivered, report.failed, report.pending) == (0, 1, 3)
    # The head of the line is backing off: a second run sends nothing and logs nothing.
    before = len(webhooks.log(ctx, hook.id))
    assert webhooks.deliver(ctx).failed == 0
    assert len(webhooks.log(ctx, hook.id)) == before

    receiver.start()
    report = webhooks.deliver(ctx, retry_now=True)
    assert (report.delivered, report.failed, report.pending) == (3, 0, 0)
    stage_moves = [
        e.id for e in reversed(ctx.store.history(model="churn")) if e.kind == "stage.moved"
    ]
    assert receiver.event_ids()[1:] == stage_moves  # in order, each once
    assert len(set(receiver.event_ids())) == len(receiver.event_ids()) == 5
    assert webhooks.deliver(ctx, retry_now=True).delivered == 0  # nothing sent twice

    log = list(reversed(webhooks.log(ctx, hook.id)))
    third = stage_moves[1]
    tries = [a for a in log if a.event == third]
    assert [a.ok for a in tries] == [False, True]
    assert "refused" in (tries[0].error or "").lower()
    assert tries[1].code == 204


def test_a_missing_secret_or_a_bad_answer_is_retried_not_lost(ctx, receiver, monkeypatch):
    hook = webhooks.add(ctx, receiver.url, secret_env="HOOK_SECRET")
    monkeypatch.delenv("HOOK_SECRET")
    lifecycle.add_model(ctx, "churn", owner="alice")
    assert webhooks.deliver(ctx).failed == 1
    assert "HOOK_SECRET is not set" in (webhooks.log(ctx, hook.id)[0].error or "")
    assert receiver.received == []  # never sent unsigned
    monkeypatch.setenv("HOOK_SECRET", "not-the-secret")
    assert webhooks.deliver(ctx, retry_now=True).failed == 1
    assert webhooks.log(ctx, hook.id)[0].code == 401  # the receiver refused the signature
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    assert webhooks.deliver(ctx, retry_now=True).delivered == 1
    assert receiver.kinds() == ["model.created"]
    delivery = ctx.store.rows(schema.DELIVERIES, webhook=hook.id, order="event")[0]
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [webhooks.backoff(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert webhooks.backoff(30) == 3600


def test_two_relays_at_once_deliver_each_event_once(ctx, receiver, db_url):
    webhooks.add(ctx, receiver.url, secret_env="HOOK_SECRET")
    for i in range(12):
        lifecycle.add_model(ctx, f"m{i}", owner="alice")
    errors: list[BaseException] = []

    def relay() -> None:
        store = open_store(db_url)
        try:
            webhooks.deliver(Context(store, "relay"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    webhooks.deliver(ctx)  # whatever a relay that lost the lease left
    assert not errors
    ids = receiver.event_ids()
    assert len(ids) == 12 and ids == sorted(set(ids))


def test_a_relay_stopped_mid_round_counts_what_it_sent_and_gives_the_lease_back(ctx, receiver):
    webhooks.add(ctx, receiver.url, secret_env="HOOK_SECRET")
    for name in ("churn", "fraud", "eta"):
        lifecycle.add_model(ctx, name, owner="alice")
    total = webhooks.Report()

    def ctrl_c(hook: object, attempt: object) -> None:
        raise KeyboardInterrupt  # as Ctrl+C does, once the first delivery is on record

    with pytest.raises(KeyboardInterrupt):
        webhooks.deliver(ctx, on_attempt=ctrl_c, report=total)
    assert (total.delivered, total.failed) == (1, 0)  # what `deliver --watch` then prints
    assert len(receiver.event_ids()) == 1
    # The lease went back on the way out: the next relay goes on at once, in order, once.
    report = webhooks.deliver(ctx)
    assert (report.delivered, report.failed, report.pending) == (2, 0, 0)
    ids = receiver.event_ids()
    assert len(ids) == 3 and ids == sorted(set(ids))


def test_ping_list_remove_and_validation(ctx, receiver):
    hook = webhooks.add(ctx, receiver.url, events="stage", secret_env="HOOK_SECRET")
    attempt = webhooks.test(ctx, hook.id)
    assert attempt.ok and attempt.code == 204 and receiver.kinds() == ["webhook.test"]
    assert [h.id for h in webhooks.webhooks(ctx)] == [hook.id]
    added = ctx.store.history(limit=1)[0]
    assert added.kind == "webhook.added" and SECRET not in str(added.data)
    webhooks.remove(ctx, hook.id)
    assert webhooks.webhooks(ctx) == []
    lifecycle.add_model(ctx, "churn", owner="alice")
    lifecycle.move(ctx, "churn", "build")
    assert webhooks.deliver(ctx).delivered == 0
    assert len(webhooks.log(ctx, hook.id)) == 1  # the log outlives the webhook
    with pytest.raises(NotFound):
        webhooks.remove(ctx, hook.id)
    for bad in ("ftp://x/y", "file:///etc/passwd", "http://", "javascript:alert(1)", "http://a b"):
        with pytest.raises(InvalidInput):
            webhooks.add(ctx, bad)
    with pytest.raises(InvalidInput, match="unknown event category 'stages'"):
        webhooks.add(ctx, receiver.url, events="stages")
    with pytest.raises(InvalidInput):
        webhooks.add(ctx, receiver.url, secret_env="NOT-AN-ENV")


def test_a_receiver_that_does_not_answer_costs_at_most_the_budget(ctx):
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections, never answers
    try:
        webhooks.add(ctx, f"http://127.0.0.1:{silent.getsockname()[1]}/")
        lifecycle.add_model(ctx, "churn", owner="alice")
        started = time.monotonic()
        webhooks.after_write(ctx)
        assert time.monotonic() - started < webhooks.AFTER_WRITE_BUDGET + 1.0
        assert "timed out" in (webhooks.log(ctx)[0].error or "")
    finally:
        silent.close()


def test_export_and_import_carry_the_outbox_so_nothing_is_sent_twice(ctx, receiver, tmp_path):
    import io

    from mlops_tui.services import approvals, transfer

    hook = webhooks.add(ctx, receiver.url, secret_env="HOOK_SECRET")
    approvals.require(ctx, None, 2)
    lifecycle.add_model(ctx, "churn", owner="alice")
    webhooks.deliver(ctx)
    out = io.StringIO()
    counts = transfer.export(ctx, out)
    assert counts["webhooks"] == 1 and counts["webhook_attempts"] == 2
    assert counts["approval_rules"] == 1
    with open_store(str(tmp_path / "copy.db")) as other:
        copy = Context(other, "alice")
        transfer.import_(copy, io.StringIO(out.getvalue()), "f")
        assert [h.url for h in webhooks.webhooks(copy)] == [hook.url]
        assert approvals.required(copy, "churn") == 2
        assert webhooks.deliver(copy).delivered == 0  # the cursor came along
        lifecycle.move(copy, "churn", "build")
        assert webhooks.deliver(copy).delivered == 1
        assert len(webhooks.add(copy, receiver.url).url) > 0  # ids go on after the import
    assert receiver.kinds()[-1] == "stage.moved"
    assert len(receiver.event_ids()) == len(set(receiver.event_ids()))
