"""`mlops build`, `mlops builds` and `mlops record build`."""

from __future__ import annotations

import sys

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

record_app = typer.Typer(help="Record results from external CI.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.command("builds")(list_builds)


def build(
    name: str,
    ref: str = typer.Option("HEAD", "--ref", help="Branch, tag or commit to build."),
) -> None:
    """Build a model version with Docker from the committed tree at REF.

    Uncommitted changes are never in the image. Building the same commit, data reference
    and parameters again reuses that version's number.
    """
    from mlops_tui.services import builds

    colour = output.use_colour()
    prefix = output.paint("│ ", "2", colour)

    def show(line: str) -> None:
        sys.stdout.write(prefix + line + "\n")
        sys.stdout.flush()

    with session() as ctx:
        result = builds.build(ctx, name, ref=ref, on_line=show)
    b = result.build
    for warning in result.warnings:
        output.info(f"warning: {warning}")
    output.write(
        f"built {b.model} v{b.version} from {b.commit[:12]} as {b.image} "
        f"in {b.duration:.1f}s (build #{b.id})\n"
    )


def list_builds(
    name: str | None = typer.Argument(None, help="Only this model."),
    limit: int = typer.Option(20, "--limit", "-n"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recent builds, newest first (a build whose process died shows as interrupted)."""
    from mlops_tui import timefmt
    from mlops_tui.services import builds

    with session() as ctx:
        rows = builds.builds(ctx, name, limit=limit)
    if as_json:
        output.emit_json([output.record(b) for b in rows])
        return
    if not rows:
        output.info("no builds yet")
        return
    colours = {
        "succeeded": "32",
        "failed": "31",
        "running": "33",
        "cancelled": "2",
        "interrupted": "35",
    }
    table = [
        (
            f"#{b.id}",
            b.model,
            f"v{b.version}",
            b.status.value,
            b.commit[:12],
            timefmt.local(b.started_at),
            f"{b.duration:.0f}s" if b.duration is not None else "-",
            b.actor,
            b.error or b.url or b.image or "",
        )
        for b in rows
    ]
    output.write(
        output.table(
            ("BUILD", "MODEL", "VER", "STATUS", "COMMIT", "STARTED", "TOOK", "BY", "DETAIL"),
            table,
            shrink=((8, 10), (1, 12)),
            colours=(None, None, None, colours),
            hide=(1,) if name is not None else (),
        )
    )


@record_app.command("build")
def record_build(
    name: str,
    commit: str = typer.Option(..., "--commit", metavar="SHA", help="The commit CI built."),
    image: str = typer.Option(..., "--image", metavar="REF", help="The image CI pushed."),
    failed: bool = typer.Option(False, "--failed", help="The build failed."),
    url: str | None = typer.Option(None, "--url", help="Link to the CI run."),
) -> None:
    """Record a build that ran in Jenkins, GitLab CI or any other CI."""
    from mlops_tui.services import builds

    with session() as ctx:
        result = builds.record(ctx, name, commit=commit, image=image, failed=failed, url=url)
    b = result.build
    output.write(f"recorded build #{b.id} of {b.model} v{b.version}: {b.status}\n")
