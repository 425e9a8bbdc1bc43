"""`mlops history`: who changed what, newest first."""

from __future__ import annotations

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session


def register(app: typer.Typer) -> None:
    app.command("history")(history)


def history(
    name: str | None = typer.Argument(None, help="Only this model."),
    by: str | None = typer.Option(None, "--by", metavar="USER", help="Only this person's."),
    since: str | None = typer.Option(
        None, "--since", metavar="DATE", help="2026-05-01, 2026-05-01T14:30, yesterday, 7d…"
    ),
    between: tuple[str, str] | None = typer.Option(
        None,
        "--between",
        metavar="A B",
        help="Only changes from A (included) to B (excluded); dates as for --since.",
    ),
    search: str | None = typer.Option(
        None,
        "--search",
        "-s",
        metavar="TEXT",
        help="Only events holding every word of TEXT in their notes, data, kind or people.",
    ),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The append-only history of changes, newest first."""
    from mlops_tui import timefmt
    from mlops_tui.services import queries

    since_at = timefmt.parse_when(since) if since else None
    until_at = None
    if between:
        from mlops_tui.errors import InvalidInput

        if since:
            raise InvalidInput("use --since or --between, not both")
        since_at, until_at = (timefmt.parse_when(w) for w in between)
        if until_at <= since_at:
            raise InvalidInput(
                f"--between {between[0]} {between[1]}: the second date must come after the first"
            )
    with session() as ctx:
        events = queries.history(
            ctx,
            model=name,
            actor=by,
            since=since_at,
            until=until_at,
            limit=limit,
            search=search,
        )
    if as_json:
        output.emit_json([output.record(e) for e in events])
        return
    if not events:
        output.info("no history matches")
        return
    rows = [
        (timefmt.local(e.at), e.actor, e.model or "-", e.kind, queries.describe(e)) for e in events
    ]
    output.write(
        output.table(
            ("AT", "ACTOR", "MODEL", "KIND", "WHAT"),
            rows,
            shrink=((4, 20), (2, 14)),
            hide=(2,) if name else (),
        )
    )
