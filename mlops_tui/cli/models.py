"""`mlops model add|set|list|show`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

if TYPE_CHECKING:
    from mlops_tui.domain.mlflow import MlflowVersion

app = typer.Typer(help="Add models, change their details and look them up.", no_args_is_help=True)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Lowercase letters, digits, . _ -"),
    owner: str = typer.Option(..., "--owner", help="Who answers for this model."),
    repo: str | None = typer.Option(None, "--repo", metavar="PATH", help="Its Git repository."),
    description: str | None = typer.Option(None, "--description", "-d"),
    tag: list[str] = typer.Option([], "--tag", "-t", help="A label; repeat for several."),
) -> None:
    """Start tracking a model, in Plan."""
    from mlops_tui.services import lifecycle

    with session() as ctx:
        model = lifecycle.add_model(
            ctx, name, owner=owner, repo=repo, description=description, tags=tag
        ).model
    output.write(f"added {model.name} in {model.stage}, owned by {model.owner}\n")


@app.command("set")
def set_(
    name: str,
    repo: str | None = typer.Option(
        None, "--repo", metavar="PATH", help="Its Git repository ('' to clear)."
    ),
    description: str | None = typer.Option(None, "--description", "-d", help="'' to clear."),
    tag: list[str] | None = typer.Option(
        None, "--tag", "-t", help="Replace the tags; repeat for several."
    ),
    no_tags: bool = typer.Option(False, "--no-tags", help="Remove every tag."),
) -> None:
    """Change a model's repository, description or tags (its stage moves with `mlops move`)."""
    from mlops_tui.services import lifecycle, queries

    tags = [] if no_tags else (tag or None)
    with session() as ctx:
        change = lifecycle.edit_model(ctx, name, repo=repo, description=description, tags=tags)
    output.write(f"{change.model.name}: {queries.describe(change.event)}\n")


@app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every model, by name."""
    from mlops_tui.services import queries

    with session() as ctx:
        models = queries.models(ctx)
    if as_json:
        output.emit_json([output.record(m) for m in models])
        return
    if not models:
        output.info("no models yet: add one with `mlops model add NAME --owner USER`")
        return
    rows = [(m.name, str(m.stage), m.owner, ",".join(m.tags), m.description) for m in models]
    output.write(
        output.table(
            ("NAME", "STAGE", "OWNER", "TAGS", "DESCRIPTION"),
            rows,
            shrink=((4, 12), (3, 8), (0, 16)),
            colours=(None, output.STAGE_COLOURS),
        )
    )


@app.command("show")
def show(
    name: str,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Everything about one model, and its latest history."""
    from datetime import UTC, datetime

    from mlops_tui import timefmt
    from mlops_tui.services import queries

    with session() as ctx:
        model = queries.model(ctx, name)
        versions = queries.versions(ctx, name)
        from_mlflow, aliases = queries.mlflow_versions(ctx, name)
        recent = queries.history(ctx, model=name, limit=5)
        from mlops_tui.services.team import looked  # changes since the owner looked

        looked(ctx, model)
    if as_json:
        shown = [
            {
                **output.record(v),
                "mlflow": {
                    **output.record(from_mlflow[v.number]),
                    "aliases": aliases.get(v.number, []),
                }
                if v.number in from_mlflow
                else None,
            }
            for v in versions
        ]
        output.emit_json({**output.record(model), "versions": shown})
        return
    now = datetime.now(UTC)
    colour = output.use_colour()
    fields = [
        ("name", model.name),
        ("description", model.description or "-"),
        (
            "stage",
            output.paint(str(model.stage), output.STAGE_COLOURS[model.stage], colour)
            + f" (iteration {model.iteration})",
        ),
        ("owner", model.owner),
        ("backup", model.backup or "-"),
        ("on-call", model.oncall or "-"),
        ("repo", model.repo or "-"),
        ("tags", ", ".join(model.tags) or "-"),
        ("version", output.version(model.version)),
        ("production", output.version(model.production_version)),
        ("health", model.health.value),
        ("created", f"{timefmt.local(model.created_at)} by {model.created_by}"),
        (
            "changed",
            f"{timefmt.ago(model.updated_at, now)} by {model.updated_by} "
            f"(revision {model.revision})",
        ),
    ]
    text = "".join(f"{k + ':':<13}{v}\n" for k, v in fields)
    if versions:
        text += "\nversions:\n"
        for v in versions[:10]:
            text += (
                f"  v{v.number:<4} {(v.commit or '-')[:12]:<12}  {v.data_ref or '-'}  "
                f"{v.image or '-'}  {timefmt.local(v.created_at)} by {v.created_by}\n"
            )
            if (m := from_mlflow.get(v.number)) is not None:
                text += "        " + _mlflow_line(m, aliases.get(v.number, [])) + "\n"
    if recent:
        text += "\nrecent history:\n"
        text += "".join(
            f"  {timefmt.local(e.at)}  {e.actor:<10} {queries.describe(e)}\n" for e in recent
        )
    output.write(text)


def _mlflow_line(m: MlflowVersion, aliases: list[str]) -> str:
    """A version's MLflow side, under its line in `model show`."""
    parts = [f"MLflow {m.registered_model!r} version {m.mlflow_version}"]
    if m.run_id:
        parts.append(f"run {m.run_id[:12]}" + (f" by {m.author}" if m.author else ""))
    metrics = ", ".join(f"{k}={v:g}" for k, v in sorted(m.metrics.items())[:4])
    if metrics:
        parts.append(metrics)
    if aliases:
        parts.append(" ".join(f"@{a}" for a in aliases))
    return " · ".join(parts)
