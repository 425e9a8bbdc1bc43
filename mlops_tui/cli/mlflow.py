"""`mlops mlflow`: bring an MLflow Model Registry in, keep it in step, move its aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from mlops_tui import timefmt
from mlops_tui.cli import output
from mlops_tui.cli.common import session

if TYPE_CHECKING:
    from mlops_tui.services.mlflow_bridge import ModelPlan, Report

app = typer.Typer(
    help="The MLflow bridge: import a registry, sync it, and set its alias on each deploy.",
    no_args_is_help=True,
)

URI_HELP = (
    "http(s)://… (REST), or sqlite:///… / postgresql://… (needs mlops-tui\\[mlflow]); "
    "credentials come from MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD"
)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _plan_lines(plan: ModelPlan) -> list[str]:
    from mlops_tui.services.mlflow_bridge import describe

    if plan.new:
        what = [f"+ {plan.name} ← {plan.registered_model!r}"]
        if plan.versions:
            numbers = describe(v.number for v in plan.versions)
            what.append(f"{_count(len(plan.versions), 'version')} ({numbers})")
        if plan.production is not None:
            what.append(f"production v{plan.production} ({plan.production_from})")
        what.append(f"stage {plan.stage}")
        lines = [", ".join(what)]
    else:
        parts = []
        if plan.versions:
            numbers = describe(v.number for v in plan.versions)
            parts.append(f"{_count(len(plan.versions), 'new version')} ({numbers})")
        lines = [f"~ {plan.name}: " + ", ".join(parts)] if parts else []
        if not plan.changes:
            lines = [f"= {plan.name}: up to date"]
    for move in plan.moves:
        before = f"v{plan.numbers[move.before]}" if move.before in plan.numbers else move.before
        after = f"v{plan.numbers[move.after]}" if move.after in plan.numbers else move.after
        lines.append(f"  @{move.alias} moved in MLflow: {before or 'none'} → {after or 'removed'}")
    if plan.drift:
        lines.append(f"  ! {plan.drift}: production here changes only by a deploy here")
    return lines


def _show(reports: list[Report], verb: str) -> None:
    for report in reports:
        for plan in report.plans:
            for line in _plan_lines(plan):
                output.write(line + "\n")
    models = sum(len(r.changed) for r in reports)
    events = sum(r.events for r in reports)
    where = ", ".join(sorted({r.tracking_uri for r in reports})) or "MLflow"
    if reports and reports[0].dry_run:
        output.info(
            f"dry run: {_count(models, 'model')} would change from {where}; nothing was written"
        )
    else:
        output.info(f"{verb} {_count(models, 'model')} from {where} ({_count(events, 'event')})")


@app.command("import")
def import_(
    tracking_uri: str = typer.Option(..., "--tracking-uri", metavar="URI", help=URI_HELP),
    models: list[str] = typer.Option(
        [], "--model", metavar="NAME", help="Only this registered model (repeatable)."
    ),
    owner: str | None = typer.Option(
        None, "--owner", metavar="USER", help="Who owns the new models (default: you)."
    ),
    production_alias: str = typer.Option(
        "production",
        "--production-alias",
        metavar="ALIAS",
        help="The alias that names production there (else the Production stage).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
) -> None:
    """Bring a registry's models in: versions with their runs, and production.

    A registered model's name here: lowercase, other characters than letters, digits, '.',
    '_' and '-' made '-' ("Iris Classifier" is iris-classifier). Importing again brings only
    what is new.
    """
    from mlops_tui.services import mlflow_bridge

    with session() as ctx:
        if dry_run:
            report = mlflow_bridge.plan_import(
                ctx, tracking_uri, models=models, production_alias=production_alias
            )
        else:
            report = mlflow_bridge.import_registry(
                ctx, tracking_uri, models=models, owner=owner, production_alias=production_alias
            )
    _show([report], "imported")


@app.command("sync")
def sync(
    name: str | None = typer.Argument(None, help="Only this model (default: every linked one)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
) -> None:
    """Bring linked models' new versions and alias moves in, and push waiting aliases."""
    from mlops_tui.services import mlflow_bridge

    with session() as ctx:
        sync_ = mlflow_bridge.plan_sync if dry_run else mlflow_bridge.sync
        reports = sync_(ctx, name)
    if not reports:
        output.info("no model is linked to MLflow: `mlops mlflow import` or `mlops mlflow link`")
        return
    for p in reports[0].pushes:
        output.write(_push_line(p) + "\n")
    _show(reports, "synced")


@app.command("link")
def link(
    name: str = typer.Argument(..., help="The model here."),
    tracking_uri: str = typer.Option(..., "--tracking-uri", metavar="URI", help=URI_HELP),
    registered_model: str | None = typer.Option(
        None, "--registered-model", metavar="RM", help="Its name in MLflow (default: NAME)."
    ),
    alias: str = typer.Option(
        "production", "--alias", metavar="ALIAS", help="Set on each version deployed here."
    ),
) -> None:
    """Set ALIAS in MLflow on every version deployed (or rolled back to) here.

    A version maps to an MLflow version when it was imported from there, or when its
    `\\[data].ref` is models:/RM/N.
    """
    from mlops_tui.services import mlflow_bridge

    with session() as ctx:
        found = mlflow_bridge.link(
            ctx, name, tracking_uri, registered_model=registered_model, alias=alias
        )
    output.write(
        f"{found.model} is linked to {found.registered_model!r} on {found.tracking_uri}: "
        f"each deploy here sets @{found.alias} there\n"
    )


@app.command("unlink")
def unlink(name: str = typer.Argument(..., help="The model here.")) -> None:
    """Stop setting MLflow's alias on deploys (waiting pushes are dropped)."""
    from mlops_tui.services import mlflow_bridge

    with session() as ctx:
        found = mlflow_bridge.unlink(ctx, name)
    output.write(f"{found.model} is no longer linked to {found.registered_model!r}\n")


def _push_line(p: Any) -> str:
    target = f"MLflow version {p.mlflow_version}" if p.mlflow_version else "no MLflow version"
    head = f"{p.model} v{p.version} → @{p.alias} ({target}): {p.status}"
    if p.status == "pending":
        when = timefmt.local(p.next_attempt_at) if p.next_attempt_at else "now"
        tries = f"{p.attempts} attempts" if p.attempts != 1 else "1 attempt"
        head += f", {tries}, next at {when}"
    if p.last_error and p.status != "done":
        head += f" ({p.last_error})"
    return head


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Each link, its aliases, and the alias pushes waiting or failed."""
    from mlops_tui.services import mlflow_bridge

    with session(read_only=True) as ctx:
        found = mlflow_bridge.status(ctx)
    if as_json:
        output.emit_json(
            [
                {
                    **output.record(s.link),
                    "versions": s.versions,
                    "last_push": output.record(s.last) if s.last else None,
                    "pending": [output.record(p) for p in s.waiting],
                    "failed": [output.record(p) for p in s.failed],
                }
                for s in found
            ]
        )
        return
    if not found:
        output.info("no model is linked to MLflow: `mlops mlflow import` or `mlops mlflow link`")
        return
    rows = []
    for s in found:
        ln = s.link
        aliases = ", ".join(f"@{a}→{v}" for a, v in sorted(ln.aliases.items())) or "-"
        last = s.last.status if s.last else "-"
        if s.waiting:
            last = f"{len(s.waiting)} pending"
        elif s.last and s.last.status == "failed":
            last = "failed"
        rows.append(
            (
                ln.model,
                ln.registered_model,
                ln.tracking_uri,
                f"@{ln.alias}" if ln.alias else "-",
                str(s.versions),
                aliases,
                last,
            )
        )
    output.write(
        output.table(
            ("MODEL", "REGISTERED MODEL", "TRACKING URI", "PUSHES", "VERSIONS", "ALIASES", "LAST"),
            rows,
        )
    )
    for s in found:
        for p in [*s.waiting, *(s.failed[:1] if s.last and s.last.status == "failed" else [])]:
            output.write(_push_line(p) + "\n")
