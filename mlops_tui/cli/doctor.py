"""`mlops doctor`: checks a set-up, one line per check with its fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import current_settings

if TYPE_CHECKING:
    from mlops_tui.services.doctor import Check

#: status -> (mark, SGR colour when the terminal has colour)
MARKS = {"ok": ("✓", "32"), "warn": ("!", "33"), "problem": ("✗", "1;31")}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per check."),
) -> None:
    """Check the set-up: database, identity, Docker, Git, model repositories, webhooks, MLflow.

    Only looks (nothing is created, migrated, delivered or recorded) and waits a few
    seconds at most for each thing outside. Exits 1 when a check finds a problem.
    """
    from dataclasses import asdict

    from mlops_tui.services.doctor import diagnose

    checks = diagnose(current_settings().db)
    if as_json:
        output.emit_json([asdict(check) for check in checks])
    else:
        output.write(render(checks, output.use_colour()))
    failing = ("problem", "warn") if strict else ("problem",)
    if any(check.status in failing for check in checks):
        raise typer.Exit(1)


def render(checks: list[Check], colour: bool) -> str:
    """One line each, the names aligned so that the details read as a column."""
    size = max((len(check.name) for check in checks), default=0)
    lines = []
    for check in checks:
        mark, code = MARKS[check.status]
        line = f"{output.paint(mark, code, colour)} {check.name.ljust(size)}  {check.detail}"
        if check.fix and check.status != "ok":
            line += f" → fix: {check.fix}"
        lines.append(line)
    return "".join(f"{line}\n" for line in lines)
