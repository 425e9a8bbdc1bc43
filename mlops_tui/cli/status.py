"""`mlops status`: the command typed all day and run in shell prompts.

The printing lives in `status_view` (no Typer); `mlops_tui.cli.main` calls it directly for
plain invocations so that a shell prompt never pays for Typer's import.
"""

from __future__ import annotations

import typer

from mlops_tui.cli.status_view import show_status


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(
    name: str | None = typer.Argument(None, help="One model: print a single summary line."),
    stage: str | None = typer.Option(None, "--stage", help="Only models in this stage."),
    owner: str | None = typer.Option(None, "--owner", help="Only models this person owns."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    at: str | None = typer.Option(
        None,
        "--at",
        metavar="DATE",
        help="As it was then, replayed from the history: 2026-05-01T14:30, yesterday, 7d…",
    ),
) -> None:
    """Where every model stands: stage, owner, versions, health, last change."""
    show_status(name, stage=stage, owner=owner, as_json=as_json, at=at)
