"""Printing `mlops status`, with nothing heavier than sqlite3 on its import path: no Typer,
no Rich, no TUI, and the PostgreSQL driver only when the database is PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlops_tui.cli import output
from mlops_tui.cli.common import CliSettings, session, stage_option

if TYPE_CHECKING:
    from mlops_tui.domain import Stage
    from mlops_tui.store import StatusRow


def _summary(row: StatusRow, now: datetime, colour: bool) -> str:
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
    name: str | None,
    *,
    stage: str | None = None,
    owner: str | None = None,
    as_json: bool = False,
    at: str | None = None,
    settings: CliSettings | None = None,
) -> None:
    """Print the board, or one model's line. `settings`: the root options (--db); None reads
    them from the running command's Click context."""
    from mlops_tui import timefmt
    from mlops_tui.services import queries
    from mlops_tui.store import StatusRow

    stage_filter = stage_option(stage)
    if at is not None:
        return _show_at(name, timefmt.parse_when(at), stage_filter, owner, as_json, settings)
    with session(settings, deliver=False, read_only=True) as ctx:
        if name is not None:
            m = queries.model(ctx, name)
            rows = [
                StatusRow(
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
        left = ctx.store.inactive_users() if rows else set()
    _print(rows, name, as_json, stage, owner, left=left)


KEYS = (
    "name",
    "stage",
    "owner",
    "version",
    "production_version",
    "health",
    "updated_at",
    "updated_by",
)


def _show_at(
    name: str | None,
    when: datetime,
    stage_filter: Stage | None,
    owner: str | None,
    as_json: bool,
    settings: CliSettings | None,
) -> None:
    """`status --at`: the same columns and JSON, replayed from the history."""
    from mlops_tui import timefmt
    from mlops_tui.services import timetravel

    with session(settings, deliver=False, read_only=True) as ctx:
        rows = timetravel.status_at(ctx, when, name=name, stage=stage_filter, owner=owner)
        left = timetravel.inactive_at(ctx, when) if rows else set()
        if not rows and not as_json:
            first = timetravel.first_event_at(ctx)
            if first is None or first > when:
                output.info(f"no models existed yet at {timefmt.local(when)}")
                return
    if not as_json:
        shown = when.astimezone().isoformat(" ", "seconds")[:19]  # the year padded, as 0110
        output.info(f"as it was at {shown}, replayed from the history")
    _print(rows, name, as_json, stage_filter, owner, at=when, left=left)


def _print(
    rows: Sequence[StatusRow],
    name: str | None,
    as_json: bool,
    stage: str | None,
    owner: str | None,
    at: datetime | None = None,
    left: set[str] | frozenset[str] = frozenset(),
) -> None:
    """`left`: people who were deactivated; the models they own are orphaned."""
    from mlops_tui import timefmt

    keys = KEYS
    if as_json:
        items = [dict(zip(keys, (*r[:6], r[6].isoformat(), r[7]), strict=True)) for r in rows]
        for item in items:
            item["orphaned"] = item["owner"] in left
        output.emit_json(items[0] if name is not None else items)
        return
    now = datetime.now(UTC) if at is None else at
    ago = timefmt.ago
    if left:
        rows = [r._replace(owner=f"{r.owner} (orphaned)") if r.owner in left else r for r in rows]
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
