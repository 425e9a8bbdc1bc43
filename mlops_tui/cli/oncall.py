"""`mlops oncall`: the review an on-call engineer reads at the start of a shift.

Exit status 8 when any production model needs attention, so a hand-over script can gate on
it. `mlops oncall runbook NAME URL` sets the link the review shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

app = typer.Typer(
    invoke_without_command=True,
    help="Every production model for the on-call engineer, most urgent first.",
)


def _ago(when: datetime | None, now: datetime) -> str:
    from mlops_tui import timefmt

    return timefmt.ago(when, now) if when else "never"


def _record(r: Any, now: datetime) -> dict[str, Any]:
    m = r.model
    d = r.last_deploy
    return {
        "name": m.name,
        "stage": str(m.stage),
        "production_version": m.production_version,
        "owner": m.owner,
        "backup": m.backup,
        "oncall": m.oncall,
        "health": str(m.health),
        "last_check_at": r.last_check_at.isoformat() if r.last_check_at else None,
        "last_deploy": None
        if d is None
        else {"version": d.version, "at": d.at.isoformat(), "by": d.by, "kind": d.kind},
        "open_alerts": [
            {"id": a.id, "metric": a.metric, "status": str(a.status), "detail": a.detail}
            for a in r.open_alerts
        ],
        "orphaned": r.orphaned,
        "stale": r.stale,
        "runbook": r.runbook,
        "problems": r.problems,
        "needs_attention": r.needs_attention,
    }


def _cells(r: Any, now: datetime) -> tuple[str, ...]:
    m = r.model
    d = r.last_deploy
    deploy = f"v{d.version} {_ago(d.at, now)} by {d.by}" if d else "-"
    return (
        ("! " if r.needs_attention else "  ") + m.name,
        f"v{m.production_version}",
        m.owner + (" (orphaned)" if r.orphaned else ""),
        m.backup or "-",
        m.oncall or "-",
        str(m.health),
        _ago(r.last_check_at, now),
        deploy,
        str(len(r.open_alerts)),
        r.runbook or "-",
        ", ".join(r.problems) or "ok",
    )


HEADERS = (
    "MODEL",
    "PROD",
    "OWNER",
    "BACKUP",
    "ON-CALL",
    "HEALTH",
    "CHECKED",
    "LAST DEPLOY",
    "ALERTS",
    "RUNBOOK",
    "NEEDS",
)


@app.callback()
def oncall(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    markdown: bool = typer.Option(
        False, "--markdown", help="A Markdown table, for a hand-over note."
    ),
) -> None:
    """The on-call review (exit 8 when a model needs attention)."""
    if ctx.invoked_subcommand is not None:
        return
    from mlops_tui.errors import NeedsAttention
    from mlops_tui.services import oncall as service

    with session() as c:
        rows = service.review(c)
        now = c.clock()
    attention = [r for r in rows if r.needs_attention]
    if as_json:
        output.emit_json([_record(r, now) for r in rows])
    elif markdown:
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        for r in rows:
            cells = [c.strip().replace("|", "\\|") for c in _cells(r, now)]
            if cells[9].startswith("http"):
                cells[9] = f"[runbook]({cells[9]})"
            lines.append("| " + " | ".join(cells) + " |")
        output.write("\n".join(lines) + "\n")
    elif not rows:
        output.info("no model is in production")
    else:
        output.write(
            output.table(
                HEADERS, [_cells(r, now) for r in rows], shrink=((9, 8), (10, 20), (7, 12))
            )
        )
    if attention:
        raise NeedsAttention(
            f"{len(attention)} of {len(rows)} production models need attention: "
            + ", ".join(r.model.name for r in attention)
        )


@app.command("runbook")
def runbook(
    name: str,
    url: str | None = typer.Argument(None, help="http(s) link; omit with --clear."),
    clear: bool = typer.Option(False, "--clear", help="Remove the link."),
) -> None:
    """Set the runbook link the on-call review shows for a model."""
    from mlops_tui.errors import InvalidInput
    from mlops_tui.services import oncall as service

    if (url is None) != clear:
        raise InvalidInput("give a URL, or --clear to remove the link")
    with session() as c:
        service.set_runbook(c, name, None if clear else url)
    output.write(f"{name}: runbook {'removed' if clear else url}\n")
