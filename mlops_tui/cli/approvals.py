"""`mlops approvals`, `mlops approve`, `mlops reject`: a second pair of eyes before production."""

from __future__ import annotations

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

app = typer.Typer(
    help="Approval rules and requests: which models need approvals before production.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.command("approve")(approve)
    root.command("reject")(reject)
    root.add_typer(app, name="approvals")


def _scope(name: str | None, all_models: bool) -> str | None:
    from mlops_tui.errors import InvalidInput

    if (name is None) == (not all_models):
        raise InvalidInput("name one model, or use --all for the whole team (not both)")
    return name


@app.command("require")
def require(
    name: str | None = typer.Argument(None, help="The model (or --all)."),
    all_models: bool = typer.Option(False, "--all", help="Every model of the team."),
    count: int = typer.Option(1, "--count", help="How many approvals a version needs."),
) -> None:
    """Require approvals before a version goes to production (a model's rule wins over --all)."""
    from mlops_tui.services import approvals

    scope = _scope(name, all_models)
    if count < 1:
        from mlops_tui.errors import InvalidInput

        raise InvalidInput("--count must be 1 or more (`mlops approvals off` removes a rule)")
    with session() as ctx:
        approvals.require(ctx, scope, count)
    who = scope or "every model"
    output.write(f"{who}: {count} approval{'s' if count > 1 else ''} required before production\n")


@app.command("off")
def off(
    name: str | None = typer.Argument(None, help="The model (or --all)."),
    all_models: bool = typer.Option(False, "--all", help="The team-wide rule."),
) -> None:
    """Remove an approval rule."""
    from mlops_tui.services import approvals

    scope = _scope(name, all_models)
    with session() as ctx:
        approvals.require(ctx, scope, 0)
        left = approvals.required(ctx, scope) if scope else 0
    what = scope or "the team"
    extra = f" (the team's rule still asks for {left})" if left else ""
    output.write(f"{what}: approval rule removed{extra}\n")


@app.command("list")
def list_(
    mine: bool = typer.Option(False, "--mine", help="Only what I may approve."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The rules, and the versions waiting for approval."""
    from dataclasses import asdict

    from mlops_tui.services import approvals
    from mlops_tui.timefmt import local

    with session(deliver=False) as ctx:
        rules = approvals.rules(ctx)
        waiting = approvals.pending(ctx, for_user=ctx.actor if mine else None)
    if as_json:
        output.emit_json({"rules": rules, "pending": [asdict(a) for a in waiting]})
        return
    if rules:
        rule_rows = [("all models" if s == "*" else s, str(n)) for s, n in sorted(rules.items())]
        output.write(output.table(("RULE", "APPROVALS"), rule_rows))
    else:
        output.info("no approval rules: `mlops approvals require NAME` or `--all` adds one")
    if not waiting:
        output.info("nothing waits for approval")
        return
    output.write("\n")
    rows = [
        (
            a.model,
            f"v{a.version}",
            f"{len(a.approved_by)}/{a.required}",
            a.requested_by or "-",
            local(a.requested_at) if a.requested_at else "-",
            ", ".join(a.approved_by) or "-",
        )
        for a in waiting
    ]
    output.write(output.table(("MODEL", "VER", "HAVE", "REQUESTED BY", "AT", "APPROVED BY"), rows))


def approve(
    name: str = typer.Argument(..., help="The model."),
    version: int = typer.Option(..., "--version", help="The version number (3 for v3)."),
    note: str | None = typer.Option(None, "--note", help="Why, or what you checked."),
) -> None:
    """Approve a version for production."""
    from mlops_tui.services import approvals

    with session() as ctx:
        approvals.approve(ctx, name, version, note)
        a = approvals.state(ctx, name, version)
    if a.required == 0:
        tail = "no approval is required"
    elif a.done:
        tail = "ready for production"
    else:
        tail = f"{len(a.approved_by)} of {a.required} approvals"
    output.write(f"{name} v{version}: approved ({tail})\n")


def reject(
    name: str = typer.Argument(..., help="The model."),
    version: int = typer.Option(..., "--version", help="The version number (3 for v3)."),
    note: str = typer.Option(..., "--note", help="Why (required)."),
) -> None:
    """Reject a version: it may not go to production until you approve it after all."""
    from mlops_tui.services import approvals

    with session() as ctx:
        approvals.reject(ctx, name, version, note)
    output.write(f"{name} v{version}: rejected: {note.strip()}\n")
