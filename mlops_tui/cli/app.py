"""The `mlops` command: Typer wiring only; every action lives in `mlops_tui.services`."""

from __future__ import annotations

import typer

from mlops_tui import __version__
from mlops_tui.cli import (
    approvals,
    audit,  # the audit chain
    builds,
    data,
    doctor,
    gc,
    git,
    handoffs,  # handing models over
    history,
    lifecycle,
    loop,  # test, deploy, rollback, check, alerts
    mlflow,  # the MLflow bridge
    models,
    oncall,  # the on-call review
    serve,  # the registry over HTTP
    status,
    team,  # people, settings
    tokens,  # API tokens for serve
    webhook,
)
from mlops_tui.cli.common import CliSettings, current_settings

app = typer.Typer(
    name="mlops",
    help="Track every model through Plan → Build → Test → Deploy → Monitor, as a team.",
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from mlops_tui.store.migrations import LATEST

        # The schema too: what a bug report needs, and what tells two releases apart.
        typer.echo(f"mlops-tui {__version__} (database schema v{LATEST})")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None,
        "--db",
        metavar="URL",
        help="Database: a SQLite file path, sqlite:///path or postgresql://… "
        "(default: $MLOPS_DB, else mlops.db in your data folder)",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """With no command, open the interactive board."""
    ctx.obj = CliSettings(db=db)
    if ctx.invoked_subcommand is None:
        tui()


@app.command("tui")
def tui() -> None:
    """Open the interactive board (the same as `mlops` with no command)."""
    import sys

    if not sys.stdout.isatty() or not sys.stdin.isatty():
        from mlops_tui.errors import InvalidInput

        raise InvalidInput("the board needs a terminal; for scripts use `mlops status`")
    from mlops_tui.tui import run

    run(current_settings().db)


# In the order people reach for them.
status.register(app)
app.add_typer(models.app, name="model")
lifecycle.register(app)
app.add_typer(lifecycle.owner_app, name="owner")
history.register(app)
builds.register(app)
app.add_typer(builds.record_app, name="record")
loop.register(app, builds.record_app)
app.add_typer(git.app, name="git")
data.register(app)
approvals.register(app)
gc.register(app)
app.add_typer(webhook.app, name="webhook")
app.add_typer(audit.app, name="audit")
team.register(app)  # user, settings
app.add_typer(handoffs.app, name="handoff")
app.add_typer(oncall.app, name="oncall")
doctor.register(app)
serve.register(app)
app.add_typer(tokens.app, name="token")
app.add_typer(mlflow.app, name="mlflow")


def _one_suggestion(group: typer.Typer) -> None:
    """Click (8.4 on) suggests a close command itself; Typer's own suggestion would say
    "Did you mean" a second time."""
    group.suggest_commands = False
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_suggestion(sub.typer_instance)


_one_suggestion(app)
