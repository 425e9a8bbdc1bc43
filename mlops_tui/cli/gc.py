"""`mlops gc`: remove old images and stopped containers, never what is live."""

from __future__ import annotations

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; remove nothing."),
    show_kept: bool = typer.Option(False, "--kept", help="Also list what stays, and why."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Remove the tool's old images and stopped containers; never the production version,
    the previous one, a tagged version or one built in the current iteration."""
    from mlops_tui.services import gc as service

    with session() as ctx:
        report = service.collect(ctx, dry_run=dry_run)
    if as_json:
        output.emit_json(
            [
                {
                    "kind": d.item.kind,
                    "model": d.item.model,
                    "version": d.item.version,
                    "ref": d.item.ref,
                    "bytes": d.item.size,
                    "action": "keep" if d.keep else ("would remove" if dry_run else "removed"),
                    "why": d.keep or d.error,
                }
                for d in report.decisions
            ]
        )
        return
    verb = "would remove" if dry_run else "removed"
    rows = []
    for d in report.decisions:
        if d.keep is not None and not show_kept:
            continue
        action = "keep" if d.keep else ("failed" if d.error else verb)
        version = "-" if d.item.version is None else f"v{d.item.version}"
        rows.append(
            (action, d.item.kind, d.item.model, version, d.item.ref, d.keep or d.error or "")
        )
    if rows:
        output.write(
            output.table(("ACTION", "WHAT", "MODEL", "VER", "REF", "WHY"), rows, shrink=((4, 16),))
        )
    gone = report.removed
    freed = sum({d.item.id: d.item.size for d in gone if d.item.kind == "image"}.values())
    output.info(
        f"{verb} {sum(d.item.kind == 'image' for d in gone)} image tags and "
        f"{sum(d.item.kind == 'container' for d in gone)} containers ({_size(freed)}); "
        f"kept {len(report.kept)}"
        + (f"; {len(report.failed)} could not be removed" if report.failed else "")
    )
