"""Signed webhooks from a durable outbox, so chat and paging tools hear of every change.

The outbox is the append-only events table itself: each webhook has a cursor over it, and
events past the cursor that the webhook wants become deliveries (one per webhook and event,
enforced by the database). A relay POSTs each webhook's deliveries strictly in event order;
a failure is logged and retried later with exponential backoff, and the events behind it
wait, so a receiver that was down gets everything, in order, once it is back.

Who relays: `mlops webhook deliver [--watch]`, and every CLI command that wrote something,
for at most a second (errors there are only logged in the outbox, never shown as failures).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mlops_tui import __version__, domain
from mlops_tui.domain import WEBHOOK_ADDED, WEBHOOK_REMOVED, Attempt, Delivery, Event, Webhook
from mlops_tui.errors import InvalidInput, NotFound
from mlops_tui.services import gate
from mlops_tui.services.context import Context
from mlops_tui.store import schema

#: event categories (the part of a kind before the dot) a webhook can ask for; README lists
#: the kinds behind each one
CATEGORIES = (
    "alert",  # alert.opened, alert.acknowledged, alert.resolved
    "approval",  # approval.rule, approval.requested, approval.approved, approval.rejected
    "build",  # build.started, build.finished, build.recorded
    "check",  # check.ran: a health check that changed the model's health
    "deploy",  # deploy.started, deploy.finished (rollbacks too, with kind=rollback)
    "gc",  # gc.removed: what clean-up deleted
    "git",  # git.pull, git.commit, git.tag (GTO's prod tags too), git.push
    "handoff",  # handoff.requested, handoff.ticked, handoff.declined, handoff.cancelled
    "mlflow",  # mlflow.imported, .version, .alias_moved, .alias_set, .linked, .unlinked
    "model",  # model.created, model.edited, model.linked
    "owner",  # owner.set: owner, backup or on-call changed, accepted handoffs included
    "permission",  # permission.denied
    "settings",  # settings.set
    "stage",  # stage.moved
    "test",  # test.started, test.finished, test.recorded
    "token",  # token.created, token.revoked
    "user",  # user.added, user.changed
    "webhook",  # webhook.added, webhook.removed
)
BACKOFF_BASE = 10.0  # seconds before the 1st retry; doubles each time
BACKOFF_CAP = 3600.0
TIMEOUT = 5.0
AFTER_WRITE_BUDGET = 1.0  # what a writing CLI command may spend delivering
SIGNATURE_HEADER = "X-Mlops-Signature"


@dataclass
class Report:
    delivered: int = 0
    failed: int = 0
    pending: int = 0


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failure in a row: 10s, 20s, 40s… up to 1h."""
    return min(BACKOFF_BASE * 2.0 ** max(attempts - 1, 0), BACKOFF_CAP)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value; a receiver recomputes it over the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "category": event.kind.split(".", 1)[0],
        "model": event.model,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "data": event.data,
    }


# -- configuration -----------------------------------------------------------------------
@gate.writes("webhook")
def add(
    ctx: Context, url: str, *, events: str | None = None, secret_env: str | None = None
) -> Webhook:
    url = domain.validate_webhook_url(url)
    categories = domain.parse_categories(events, CATEGORIES)
    if secret_env is not None:
        domain.validate_env_name(secret_env)
    # Never the secret itself: only where to read it at delivery time.
    data: dict[str, Any] = {"url": url, "events": list(categories) or ["all"]}
    if secret_env:
        data["secret_env"] = secret_env
    event = ctx.event(WEBHOOK_ADDED, None, **data)
    with ctx.store.transaction() as tx:
        hooks = tx.rows(schema.WEBHOOKS)
        hook = hooks.insert(
            {
                "url": url,
                "categories": categories,
                "secret_env": secret_env,
                "created_at": event.at,
                "created_by": ctx.actor,
            }
        )
        stored = tx.events.append(event.add(webhook=hook.id))
        # It delivers what happens from now on: its cursor starts at its own event.
        found = hooks.update({"last_event": stored.id}, id=hook.id)
    assert found is not None
    return found


def webhooks(ctx: Context) -> list[Webhook]:
    return ctx.store.rows(schema.WEBHOOKS, active=True, order="id")


def get(ctx: Context, hook_id: int) -> Webhook:
    found = ctx.store.row(schema.WEBHOOKS, id=hook_id, active=True)
    if found is None:
        raise NotFound(f"no webhook #{hook_id}", cli="see `mlops webhook list`")
    return found


@gate.writes("webhook")
def remove(ctx: Context, hook_id: int) -> Event:
    with ctx.store.transaction() as tx:
        hook = tx.rows(schema.WEBHOOKS).update({"active": False}, id=hook_id, active=True)
        if hook is None:
            raise NotFound(f"no webhook #{hook_id}", cli="see `mlops webhook list`")
        return tx.events.append(ctx.event(WEBHOOK_REMOVED, None, webhook=hook_id, url=hook.url))


def pending(ctx: Context, hook_id: int | None = None) -> int:
    return len(ctx.store.rows(schema.DELIVERIES, webhook=hook_id, status="pending"))


def log(
    ctx: Context, hook_id: int | None = None, limit: int = 50, model: str | None = None
) -> list[Attempt]:
    """Delivery attempts, newest first (the webhook may have been removed since)."""
    if hook_id is not None and not any(h.id == hook_id for h in _all(ctx)):
        raise NotFound(f"no webhook #{hook_id}", cli="see `mlops webhook list`")
    if model is not None:
        domain.validate_model_name(model)
    return ctx.store.attempts(webhook=hook_id, model=model, limit=limit or None)


def _all(ctx: Context) -> list[Webhook]:
    return ctx.store.rows(schema.WEBHOOKS, order="id")


# -- sending -----------------------------------------------------------------------------
def _opener() -> Any:
    """An opener that treats a redirect as a failure: following it would POST the event to
    a place nobody validated."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirect)


def _post(
    hook: Webhook, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[bool, int | None, str | None]:
    """POST and return (ok, status code, error)."""
    import urllib.error
    import urllib.request

    if hook.secret_env:
        secret = os.environ.get(hook.secret_env)
        if not secret:
            return False, None, f"the secret's environment variable {hook.secret_env} is not set"
        headers[SIGNATURE_HEADER] = sign(secret, body)
    request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
    try:
        with _opener().open(request, timeout=timeout) as response:
            response.read(65536)
            code = response.status
    except urllib.error.HTTPError as exc:
        return False, exc.code, f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        return False, None, str(reason.strerror if isinstance(reason, OSError) else reason)
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed URL
        return False, None, str(exc) or type(exc).__name__
    if 200 <= code < 300:
        return True, code, None
    return False, code, f"HTTP {code}"


def _headers(kind: str, event_id: int | None, delivery: int | None) -> dict[str, str]:
    h = {
        "Content-Type": "application/json",
        "User-Agent": f"mlops-tui/{__version__}",
        "X-Mlops-Event": kind,
    }
    if event_id is not None:
        h["X-Mlops-Event-Id"] = str(event_id)
    if delivery is not None:
        h["X-Mlops-Delivery"] = str(delivery)
    return h


def _body(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@gate.writes("webhook")
def test(ctx: Context, hook_id: int) -> Attempt:
    """Send a ping now, whatever the queue holds; the attempt goes to the log."""
    hook = get(ctx, hook_id)
    ping = {
        "id": None,
        "kind": "webhook.test",
        "category": "webhook",
        "model": None,
        "actor": ctx.actor,
        "at": ctx.clock().isoformat(),
        "data": {"webhook": hook.id, "message": "a test from mlops webhook test"},
    }
    started = time.monotonic()
    ok, code, error = _post(hook, _body(ping), _headers("webhook.test", None, None), TIMEOUT)
    return _attempted(ctx, hook.id, None, "webhook.test", ok, code, error, started)


@gate.writes("deliver")
def deliver(
    ctx: Context,
    *,
    budget: float | None = None,
    retry_now: bool = False,
    timeout: float = TIMEOUT,
    on_attempt: Callable[[Webhook, Attempt], None] | None = None,
    report: Report | None = None,
) -> Report:
    """Queue new events and send what is due, each webhook in event order.

    `budget` bounds the whole run in seconds; `retry_now` ignores the backoff once (a
    person who knows the receiver is back). Returns what was delivered, what failed this
    run and what is still pending: into `report` when given, where each attempt is counted
    as soon as it is on record, so a relay stopped mid-run (Ctrl+C on `webhook deliver
    --watch`) still knows what it sent; its pending count is set when the run ends.
    """
    return _relay(
        ctx,
        budget=budget,
        retry_now=retry_now,
        timeout=timeout,
        on_attempt=on_attempt,
        report=report,
    )


def _relay(
    ctx: Context,
    *,
    budget: float | None,
    retry_now: bool = False,
    timeout: float = TIMEOUT,
    on_attempt: Callable[[Webhook, Attempt], None] | None = None,
    report: Report | None = None,
) -> Report:
    deadline = None if budget is None else time.monotonic() + budget
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    report = Report() if report is None else report
    pending = 0
    for hook in ctx.store.rows(schema.WEBHOOKS, active=True, order="id"):
        while _enqueue(ctx, hook):
            if deadline is not None and time.monotonic() > deadline:
                break
        if not _claim(ctx, hook.id, owner, (budget or 0) + timeout + 30):
            continue  # another relay is sending this webhook's events right now
        try:
            _drain(ctx, hook, owner, deadline, retry_now, timeout, report, on_attempt)
        finally:
            _release(ctx, hook.id, owner)
        pending += len(ctx.store.rows(schema.DELIVERIES, webhook=hook.id, status="pending"))
    report.pending = pending
    return report


def _drain(
    ctx: Context,
    hook: Webhook,
    owner: str,
    deadline: float | None,
    retry_now: bool,
    timeout: float,
    report: Report,
    on_attempt: Callable[[Webhook, Attempt], None] | None,
) -> None:
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        found = ctx.store.next_delivery(hook.id)
        if found is None:
            return
        delivery, event = found
        now = ctx.clock()
        due = delivery.next_attempt_at is None or delivery.next_attempt_at <= now
        if not due and not retry_now:
            return  # head of the line is backing off: later events wait behind it
        retry_now = False
        started = time.monotonic()
        ok, code, error = _post(
            hook,
            _body(payload(event)),
            _headers(event.kind, event.id, delivery.id),
            timeout if left is None else max(min(timeout, left), 0.2),
        )
        attempt = _attempted(ctx, hook.id, event.id, event.kind, ok, code, error, started, delivery)
        # Counted as soon as the attempt is on record, before anything else can stop the
        # relay (Ctrl+C, a failing callback), so the report matches the delivery log.
        if ok:
            report.delivered += 1
        else:
            report.failed += 1
        if on_attempt is not None:
            on_attempt(hook, attempt)
        if not ok:
            return
        if not _claim(ctx, hook.id, owner, timeout + 30):
            return  # our lease ran out and another relay took over: it goes on in order


# The outbox's steps, each its own short transaction (a relay sends between them).
def _enqueue(ctx: Context, hook: Webhook) -> int:
    with ctx.store.transaction() as tx:
        return tx.outbox.enqueue(hook, ctx.clock())


def _claim(ctx: Context, hook_id: int, owner: str, seconds: float) -> bool:
    now = ctx.clock()
    with ctx.store.transaction() as tx:
        return tx.outbox.claim(hook_id, owner, now, now + timedelta(seconds=seconds))


def _release(ctx: Context, hook_id: int, owner: str) -> None:
    with ctx.store.transaction() as tx:
        tx.outbox.release(hook_id, owner)


def _attempted(
    ctx: Context,
    hook_id: int,
    event_id: int | None,
    kind: str,
    ok: bool,
    code: int | None,
    error: str | None,
    started: float,
    delivery: Delivery | None = None,
) -> Attempt:
    """Log an attempt; for a queued delivery, mark it delivered, or due again after its
    backoff, in the same transaction."""
    at = ctx.clock()
    with ctx.store.transaction() as tx:
        attempt = tx.rows(schema.ATTEMPTS).insert(
            {
                "webhook": hook_id,
                "event": event_id,
                "kind": kind,
                "at": at,
                "ok": ok,
                "code": code,
                "error": error,
                "seconds": time.monotonic() - started,
            }
        )
        if delivery is not None:
            attempts = delivery.attempts + 1
            retry = None if ok else at + timedelta(seconds=backoff(attempts))
            outcome = {
                "attempts": attempts,
                "status": "delivered" if ok else "pending",
                "last_error": error,
                "next_attempt_at": retry,
                "delivered_at": at if ok else None,
            }
            tx.rows(schema.DELIVERIES).update(outcome, id=delivery.id)
    return attempt


def after_write(ctx: Context) -> None:
    """Deliver what is due, briefly, after a command that wrote; never raises.

    This is the relay's bookkeeping, not the person's act: it sends only what the outbox
    already holds, so it runs whoever the person is (a viewer's refusal goes out too).
    """
    try:
        if ctx.store.rows(schema.WEBHOOKS, active=True, order="id"):
            with gate.bookkeeping(ctx):
                _relay(ctx, budget=AFTER_WRITE_BUDGET, timeout=AFTER_WRITE_BUDGET)
    except Exception:
        return  # the command already succeeded; the outbox keeps the event for later


def parse_id(value: str) -> int:
    text = value.strip().lstrip("#")
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(
            f"invalid webhook id {value!r}: it is a number", cli="see `mlops webhook list`"
        )
    return int(text)
