"""`mlops status`: the command typed all day and run in shell prompts, so it stays lean:
no Rich, no TUI, no PostgreSQL driver unless the database is PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session, stage_option


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def _health(value: str) -> str:
    return "-" if value == "unknown" else value


def status(
    name: str | None = typer.Argument(None, help="One model: print a single summary line."),
    stage: str | None = typer.Option(None, "--stage", help="Only models in this stage."),
    owner: str | None = typer.Option(None, "--owner", help="Only models this person owns."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Where every model stands: stage, owner, versions, health, last change."""
    from mlops_tui import timefmt
    from mlops_tui.services import queries

    stage_filter = stage_option(stage)
    with session() as ctx:
        if name is not None:
            m = queries.model(ctx, name)
            rows = [
                (
                    m.name,
                    str(m.stage),
                    m.owner,
                    m.version,
                    m.production_version,
                    str(m.health),
                    m.updated_at,
                    m.updated_by,
                )
            ]
        else:
            rows = queries.status(ctx, stage=stage_filter, owner=owner)
    keys = (
        "name",
        "stage",
        "owner",
        "version",
        "production_version",
        "health",
        "updated_at",
        "updated_by",
    )
    if as_json:
        items = [dict(zip(keys, (*r[:6], r[6].isoformat(), r[7]), strict=True)) for r in rows]
        output.emit_json(items[0] if name is not None else items)
        return
    now = datetime.now(UTC)
    ago = timefmt.ago
    if name is not None:
        n, st, own, ver, prod, health, at, by = rows[0]
        colour = output.use_colour()
        output.write(
            f"{n}: {output.paint(st, output.STAGE_COLOURS[st], colour)} "
            f"· {output.version(ver)} (prod {output.version(prod)}) "
            f"· {output.paint(health, output.HEALTH_COLOURS.get(health), colour)} "
            f"· owner {own} · {ago(at, now)} by {by}\n"
        )
        return
    if not rows:
        output.info(
            "no models match"
            if stage or owner
            else "no models yet: add one with `mlops model add NAME --owner USER`, "
            "or try `mlops demo`"
        )
        return
    v = output.version
    table_rows = [
        (r[0], r[1], r[2], v(r[3]), v(r[4]), _health(r[5]), f"{ago(r[6], now)} by {r[7]}")
        for r in rows
    ]
    output.write(
        output.table(
            ("NAME", "STAGE", "OWNER", "VER", "PROD", "HEALTH", "CHANGED"),
            table_rows,
            shrink=((6, 12), (0, 14), (2, 8)),
            colours=(None, output.STAGE_COLOURS, None, None, None, output.HEALTH_COLOURS),
        )
    )
