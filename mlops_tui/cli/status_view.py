"""Printing `mlops status`, with nothing heavier than sqlite3 on its import path: no Typer,
no Rich, no TUI, and the PostgreSQL driver only when the database is PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from mlops_tui.cli import output
from mlops_tui.cli.common import session, stage_option


def _summary(row: tuple, now: datetime, colour: bool) -> str:
    """One line for shell prompts and chat-ops: only what is known, most important first."""
    from mlops_tui import timefmt

    name, stage, owner, version, prod, health, at, by = row
    parts = [output.paint(stage, output.STAGE_COLOURS[stage], colour)]
    if version is not None:
        parts.append(f"v{version}" + (f" (prod v{prod})" if prod is not None else ""))
    elif prod is not None:
        parts.append(f"prod v{prod}")
    if health != "unknown":
        parts.append(output.paint(health, output.HEALTH_COLOURS.get(health), colour))
    parts += [f"owner {owner}", f"{timefmt.ago(at, now)} by {by}"]
    return f"{name}: " + " · ".join(parts) + "\n"


def show_status(
    name: str | None, *, stage: str | None = None, owner: str | None = None, as_json: bool = False
) -> None:
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
        output.write(_summary(rows[0], now, output.use_colour()))
        return
    if not rows:
        output.info(
            "no models match"
            if stage or owner
            else "no models yet: add one with `mlops model add NAME --owner USER`, "
            "or try `mlops demo`"
        )
        return
    table_rows = [
        (
            r[0],
            r[1],
            r[2],
            "-" if r[3] is None else f"v{r[3]}",
            "-" if r[4] is None else f"v{r[4]}",
            "-" if r[5] == "unknown" else r[5],
            f"{ago(r[6], now)} by {r[7]}",
        )
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
