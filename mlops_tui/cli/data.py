"""`mlops init`, `export`, `import` and `demo`: setting up and moving the whole state."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import current_settings, session
from mlops_tui.errors import InvalidInput


def _counts(counts: dict[str, int]) -> str:
    # The core records always; the later areas' records (test runs, alerts…) when present.
    core = ("models", "versions", "builds", "events")
    parts = [
        f"{n} {kind if n != 1 else kind[:-1]}" for kind, n in counts.items() if n or kind in core
    ]
    return ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("export")(export)
    app.command("import")(import_)
    app.command("demo")(demo)


def init() -> None:
    """Create the database, or bring its schema up to date. Safe to run again."""
    from mlops_tui import config
    from mlops_tui.services.team import shared_database_risks
    from mlops_tui.store import open_store

    store = open_store(config.database_url(current_settings().db), migrate=False)
    try:
        before, after = store.migrate()
        where = f"{store.backend} database at {store.location}"
        risks = shared_database_risks(store)
    finally:
        store.close()
    for risk in risks:
        output.info(f"warning: {risk}")
    if before == after:
        output.write(f"{where} is up to date (schema v{after})\n")
    elif before == 0:
        output.write(f"created {where} (schema v{after})\n")
    else:
        output.write(f"upgraded {where} from schema v{before} to v{after}\n")


def export(
    file: str | None = typer.Argument(None, help="Where to write (default: standard output)."),
) -> None:
    """Write the whole state and its history as JSON Lines."""
    from mlops_tui.services import transfer

    with session() as ctx:
        if file in (None, "-"):
            counts = transfer.export(ctx, sys.stdout)
        else:
            target = Path(file)
            # Write beside the target, then rename: a failed export never leaves half a file.
            fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    counts = transfer.export(ctx, out)
                os.replace(tmp, target)
            except BaseException:
                os.unlink(tmp)
                raise
    output.info(f"exported {_counts(counts)}" + (f" to {file}" if file not in (None, "-") else ""))


def import_(
    file: str = typer.Argument(..., help="A file made by `mlops export` (- for stdin)."),
) -> None:
    """Load an export into an empty database, exactly as it was."""
    from mlops_tui.services import transfer

    with session() as ctx:
        if file == "-":
            counts = transfer.import_(ctx, sys.stdin, "<stdin>")
        else:
            try:
                handle = open(file, encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
            with handle:
                try:
                    counts = transfer.import_(ctx, handle, file)
                except UnicodeDecodeError as exc:
                    raise InvalidInput(f"{file} is not UTF-8 text ({exc.reason})") from None
    output.write(f"imported {_counts(counts)}\n")


def demo(
    models: int = typer.Option(24, "--models", min=1, max=5000, help="How many models."),
    no_tui: bool = typer.Option(False, "--no-tui", help="Only seed; do not open the board."),
) -> None:
    """Fill the database with a demo team and an example model with a real repository to
    take round the loop, then open the board."""
    from mlops_tui import config
    from mlops_tui.services import demo as demo_service
    from mlops_tui.services import example

    with session() as ctx:
        existing = ctx.store.count_models()
        if existing:
            output.info(f"{ctx.store.location} already has {existing} models: not seeding")
        else:
            events = demo_service.seed(ctx.store, models=models, me=ctx.actor)
            output.info(f"seeded {models} models and {events} events in {ctx.store.location}")
            folder = example.folder_for(config.database_url(current_settings().db))
            made = example.create(ctx, folder)
            output.info(
                f"{made.model.name}: an example model with a real repository at "
                f"{made.model.repo}; its README.md takes it round the loop"
            )
            if (why := example.docker_note()) is not None:
                output.info(f"note: {why}")
    if no_tui:
        return
    from mlops_tui.cli.app import tui

    tui()
