"""`mlops move` and `mlops owner set`: changing where a model stands and who holds it."""

from __future__ import annotations

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

owner_app = typer.Typer(help="Name a model's owner, backup or on-call.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("move")(move)


def move(
    name: str,
    stage: str = typer.Argument(..., help="plan, build, test, deploy or monitor"),
    note: str | None = typer.Option(None, "--note", "-n", help="Why (needed to go back)."),
    force: bool = typer.Option(False, "--force", help="Skip stages (needs --note)."),
) -> None:
    """Move a model to another stage of the loop.

    STAGE is plan, build, test, deploy or monitor. One step forward is always allowed
    (monitor → plan starts a new iteration); going back needs --note; skipping ahead needs
    --force and --note.
    """
    from mlops_tui.services import lifecycle
    from mlops_tui.services.queries import describe

    with session() as ctx:
        change = lifecycle.move(ctx, name, stage, note=note, force=force)
    output.write(f"{change.model.name}: {describe(change.event)}\n")


@owner_app.command("set")
def set_owner(
    name: str,
    user: str,
    role: str = typer.Option("owner", "--role", help="owner, backup or oncall"),
) -> None:
    """Give a model's role to someone."""
    from mlops_tui.services import lifecycle
    from mlops_tui.services.queries import describe

    with session() as ctx:
        change = lifecycle.set_role(ctx, name, user, role=role)
    output.write(f"{change.model.name}: {describe(change.event)}\n")
