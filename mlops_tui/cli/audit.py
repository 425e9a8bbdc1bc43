"""`mlops audit verify`: prove the history is what the tool wrote."""

from __future__ import annotations

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

app = typer.Typer(help="Check the tamper-evident history.", no_args_is_help=True)


@app.command("verify")
def verify(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-compute the whole audit chain; exit 9 naming the first bad event if any was
    edited, deleted or inserted behind the tool's back."""
    from mlops_tui import timefmt
    from mlops_tui.domain import ChainBroken
    from mlops_tui.services import audit

    with session() as ctx:
        verdict = audit.verify(ctx)
    bad = verdict.first_bad
    if as_json:
        output.emit_json(
            {
                "events": verdict.events,
                "intact": verdict.intact,
                "head": verdict.head,
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
            output.write(f"{verdict.events} events, chain intact (head {verdict.head[:16]})\n")
        return
    when = f" at {timefmt.local(bad.at)}" if bad.at else ""
    raise ChainBroken(
        f"audit chain broken at event #{bad.id}{when}: {bad.problem}: {bad.detail} "
        f"(the {verdict.events - 1} events before it are intact)"
    )
