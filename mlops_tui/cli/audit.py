"""`mlops audit verify` and `mlops audit head`: prove the history is what the tool wrote."""

from __future__ import annotations

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

app = typer.Typer(help="Check the tamper-evident history.", no_args_is_help=True)


@app.command("verify")
def verify(
    expect: str | None = typer.Option(
        None,
        "--expect",
        metavar="HEAD",
        help="A head kept elsewhere (what `mlops audit head` printed, or its hash): exit 9 "
        "unless the history still leads through it.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-compute the whole audit chain; exit 9 naming the first bad event if any was
    edited, deleted or inserted behind the tool's back, or if the newest ones are gone."""
    from mlops_tui import timefmt
    from mlops_tui.errors import ChainBroken
    from mlops_tui.services import audit

    witness = audit.parse_witness(expect) if expect is not None else None
    with session(deliver=False) as ctx:
        verdict = audit.verify(ctx, witness)
    bad = verdict.first_bad
    if as_json:
        output.emit_json(
            {
                "events": verdict.events,
                "intact": verdict.intact,
                "head": verdict.head,
                "head_event": verdict.head_id,
                "first_bad": None
                if bad is None
                else {
                    "id": bad.id,
                    "at": bad.at.isoformat() if bad.at else None,
                    "problem": bad.problem,
                    "detail": bad.detail,
                },
            }
        )
    if bad is None:
        if not as_json:
            seen = f", through the witnessed head {witness.label()}" if witness else ""
            output.write(
                f"{verdict.events} events, chain intact (head {verdict.head[:16]}){seen}\n"
            )
        return
    if bad.tail:
        raise ChainBroken(f"audit chain broken: {bad.detail}")
    when = f" at {timefmt.local(bad.at)}" if bad.at else ""
    raise ChainBroken(
        f"audit chain broken at event #{bad.id}{when}: {bad.problem}: {bad.detail} "
        f"(the {verdict.events - 1} events before it are intact)"
    )


@app.command("head")
def head(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the newest event's id and hash as one line (ID:HASH), for a cron job to post
    somewhere the database's owners cannot rewrite; `audit verify --expect` takes it back.
    Exit 9 when the history no longer ends where the tool last appended."""
    from mlops_tui.services import audit

    with session(deliver=False) as ctx:
        found = audit.head(ctx)
    if as_json:
        output.emit_json(
            {
                "head": found.text,
                "event": found.event,
                "hash": found.hash,
                "at": found.at.isoformat() if found.at else None,
                "events": found.events,
            }
        )
        return
    output.write(found.text + "\n")
