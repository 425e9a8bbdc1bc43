"""`mlops webhook`: tell chat and paging tools about changes, signed, from a durable outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session
from mlops_tui.store import schema

if TYPE_CHECKING:
    from mlops_tui.domain import Attempt, Webhook

app = typer.Typer(
    help="Webhooks: POST each matching event as signed JSON to a URL, retried until delivered.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    url: str = typer.Argument(..., help="http:// or https:// URL that receives the POSTs."),
    events: str | None = typer.Option(
        None,
        "--events",
        metavar="CATEGORIES",
        help="Comma-separated categories (stage,deploy,handoff,alert,approval,build,…); "
        "default: all.",
    ),
    secret_env: str | None = typer.Option(
        None,
        "--secret-env",
        metavar="NAME",
        help="Environment variable holding the HMAC secret, read at delivery time "
        "(the secret itself is never stored).",
    ),
) -> None:
    """Send every matching event from now on to URL."""
    from mlops_tui.services import webhooks

    with session() as ctx:
        hook = webhooks.add(ctx, url, events=events, secret_env=secret_env)
    cats = ",".join(hook.categories) or "all events"
    signed = f", signed with ${hook.secret_env}" if hook.secret_env else ", unsigned"
    output.write(f"webhook #{hook.id}: {hook.url} ({cats}{signed})\n")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The webhooks, with how many events wait for each."""
    from mlops_tui.services import webhooks

    with session() as ctx:
        hooks = webhooks.webhooks(ctx)
        waiting = {h.id: webhooks.pending(ctx, h.id) for h in hooks}
    if as_json:
        output.emit_json(
            [{**output.record(h), "pending": waiting[h.id]} for h in hooks],
        )
        return
    if not hooks:
        output.info("no webhooks: add one with `mlops webhook add URL`")
        return
    rows = [
        (
            f"#{h.id}",
            h.url,
            ",".join(h.categories) or "all",
            f"${h.secret_env}" if h.secret_env else "-",
            str(waiting[h.id]),
            h.created_by,
        )
        for h in hooks
    ]
    output.write(
        output.table(("ID", "URL", "EVENTS", "SECRET", "PENDING", "BY"), rows, shrink=((1, 20),))
    )


@app.command("remove")
def remove(hook_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Stop sending to a webhook (its delivery log stays)."""
    from mlops_tui.services import webhooks

    with session() as ctx:
        event = webhooks.remove(ctx, webhooks.parse_id(hook_id))
    output.write(f"webhook #{event.data['webhook']} removed: {event.data['url']}\n")


@app.command("test")
def test(hook_id: str = typer.Argument(..., metavar="ID")) -> None:
    """POST a test ping now and say what the receiver answered."""
    from mlops_tui.errors import MlopsError
    from mlops_tui.services import webhooks

    with session(deliver=False) as ctx:
        attempt = webhooks.test(ctx, webhooks.parse_id(hook_id))
    if not attempt.ok:
        raise MlopsError(f"webhook #{attempt.webhook} test failed: {attempt.error}")
    output.write(
        f"webhook #{attempt.webhook}: test delivered (HTTP {attempt.code}, "
        f"{attempt.seconds * 1000:.0f} ms)\n"
    )


@app.command("deliver")
def deliver(
    watch: bool = typer.Option(False, "--watch", help="Keep relaying until Ctrl+C."),
    retry_now: bool = typer.Option(
        False, "--retry-now", help="Retry failed deliveries now instead of after their backoff."
    ),
    interval: float = typer.Option(2.0, "--interval", help="Seconds between rounds (--watch)."),
) -> None:
    """Send what the outbox holds: each webhook's events in order, retrying with backoff."""
    import contextlib
    import time

    from mlops_tui.errors import InvalidInput as MlopsInvalid
    from mlops_tui.errors import MlopsError
    from mlops_tui.services import webhooks
    from mlops_tui.timefmt import local

    def show(hook: Webhook, attempt: Attempt) -> None:
        what = f"HTTP {attempt.code}" if attempt.ok else f"failed: {attempt.error}"
        output.write(
            f"{local(attempt.at)}  #{hook.id}  event {attempt.event} {attempt.kind}  {what}\n"
        )

    if not 0.1 <= interval <= 86400:  # also refuses nan and inf, which compare false
        raise MlopsInvalid(f"--interval is seconds from 0.1 to 86400, not {interval}")
    total = webhooks.Report()
    with session(deliver=False) as ctx:
        try:
            while True:
                # Counted into the total as each attempt is recorded, not when the round
                # ends: Ctrl+C usually lands mid-round, and what went out then still counts.
                webhooks.deliver(ctx, retry_now=retry_now, on_attempt=show, report=total)
                retry_now = False
                if not watch:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            if not watch:
                raise  # a one-off run stopped half-way: say so (exit 130)
            # The round was cut short before it counted what is still queued.
            with contextlib.suppress(MlopsError):
                total.pending = webhooks.pending(ctx)
    output.info(f"{total.delivered} delivered, {total.failed} failed, {total.pending} pending")


@app.command("log")
def log(
    hook_id: str | None = typer.Argument(None, metavar="[ID]"),
    model: str | None = typer.Option(None, "--model", metavar="NAME", help="Only this model's."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delivery attempts, newest first: who was told what, and when."""
    from mlops_tui.services import queries, webhooks
    from mlops_tui.timefmt import local

    with session(deliver=False) as ctx:
        ident = webhooks.parse_id(hook_id) if hook_id is not None else None
        attempts = webhooks.log(ctx, ident, limit=limit, model=model)
        urls = {h.id: h.url for h in ctx.store.rows(schema.WEBHOOKS, order="id")}
        events = ctx.store.events_by_id(a.event for a in attempts if a.event is not None)
    # Looked up by each attempt's event: None for a test ping, which has no description.
    what: dict[int | None, str] = {i: queries.describe(e) for i, e in events.items()}
    if as_json:
        output.emit_json(
            [
                {**output.record(a), "url": urls.get(a.webhook), "what": what.get(a.event)}
                for a in attempts
            ]
        )
        return
    if not attempts:
        output.info("no delivery attempts yet (`mlops webhook deliver` sends what is queued)")
        return
    rows = [
        (
            local(a.at),
            f"#{a.webhook}",
            "-" if a.event is None else str(a.event),
            a.model or "-",
            a.kind,
            "delivered" if a.ok else "failed",
            "-" if a.code is None else str(a.code),
            (what.get(a.event, "test ping") if a.ok else (a.error or "")),
        )
        for a in attempts
    ]
    output.write(
        output.table(
            ("AT", "HOOK", "EVENT", "MODEL", "KIND", "RESULT", "HTTP", "DETAIL"),
            rows,
            shrink=((7, 20), (3, 12), (4, 12)),
            hide=((1,) if hook_id is not None else ()) + ((3,) if model else ()),
        )
    )
