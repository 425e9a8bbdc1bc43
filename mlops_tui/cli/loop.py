"""`mlops test`, `deploy`, `rollback`, `check`, `alerts`, `ack` and their listings: the
evidence behind Test, Deploy and Monitor, gathered by the tool itself."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

if TYPE_CHECKING:
    from mlops_tui.domain import TestRun
    from mlops_tui.services.context import Context

RUN_COLOURS = {
    "passed": "32",
    "succeeded": "32",
    "failed": "31",
    "running": "33",
    "cancelled": "2",
    "interrupted": "35",
}
ALERT_COLOURS = {"open": "1;31", "acknowledged": "33", "resolved": "2"}


def register(app: typer.Typer, record_app: typer.Typer) -> None:
    app.command("test")(test)
    app.command("tests")(list_tests)
    app.command("deploy")(deploy)
    app.command("rollback")(rollback)
    app.command("deployments")(list_deployments)
    app.command("check")(check)
    app.command("alerts")(alerts)
    app.command("ack")(ack)
    record_app.command("test")(record_test)
    record_app.command("deploy")(record_deploy)


def _streamer() -> Callable[[str], None]:
    prefix = output.paint("│ ", "2", output.use_colour())

    def show(line: str) -> None:
        sys.stdout.write(prefix + line + "\n")
        sys.stdout.flush()

    return show


def test(
    name: str,
    version: int | None = typer.Option(None, "--version", help="Default: the candidate."),
) -> None:
    """Run a version's tests from mlops.toml and record the outcome.

    The test command runs in a clean checkout of the version's commit, or inside its image
    with in_image = true. A passing run opens the test → deploy gate.
    """
    from mlops_tui.services import testing

    with session() as ctx:
        run = testing.run(ctx, name, version=version, on_line=_streamer())
    output.write(testing.summary(run) + "\n")


def list_tests(
    name: str | None = typer.Argument(None, help="Only this model."),
    limit: int = typer.Option(20, "--limit", "-n"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recent test runs, newest first (one whose process died shows as interrupted)."""
    from mlops_tui import timefmt
    from mlops_tui.services import testing

    with session() as ctx:
        rows = testing.test_runs(ctx, name, limit=limit)
    if as_json:
        output.emit_json([output.record(r) for r in rows])
        return
    if not rows:
        output.info("no test runs yet")
        return

    def counts(r: TestRun) -> str:
        return "-" if r.passed is None else f"{r.passed}/{r.failed}/{r.skipped}"

    table = [
        (
            f"#{r.id}",
            r.model,
            f"v{r.version}",
            r.status.value,
            counts(r),
            timefmt.local(r.started_at),
            f"{r.duration:.0f}s" if r.duration is not None else "-",
            r.actor,
            r.error or r.url or ("in image" if r.in_image else "checkout"),
        )
        for r in rows
    ]
    output.write(
        output.table(
            ("RUN", "MODEL", "VER", "STATUS", "P/F/S", "STARTED", "TOOK", "BY", "DETAIL"),
            table,
            shrink=((8, 10), (1, 12)),
            colours=(None, None, None, RUN_COLOURS),
            hide=(1,) if name is not None else (),
        )
    )


def deploy(
    name: str,
    version: int | None = typer.Option(None, "--version", help="Default: the candidate."),
) -> None:
    """Deploy a version (the model must be in stage deploy).

    Runs its image as the container mlops-NAME on this machine, or the custom deploy
    command. The production version changes only once the health check passed; otherwise
    the previous container is put back and keeps serving.
    """
    from mlops_tui.services import deploys

    with session() as ctx:
        result = deploys.deploy(ctx, name, version=version, on_line=_streamer())
    for warning in result.warnings:
        output.info(f"warning: {warning}")
    output.write(deploys.summary(result) + "\n")


def rollback(
    name: str,
    to: int | None = typer.Option(None, "--to", help="Default: the previous production one."),
) -> None:
    """Go back to an earlier version that once deployed successfully, as a deploy does."""
    from mlops_tui.services import deploys

    with session() as ctx:
        result = deploys.rollback(ctx, name, to=to, on_line=_streamer())
    for warning in result.warnings:
        output.info(f"warning: {warning}")
    output.write(deploys.summary(result) + "\n")


def list_deployments(
    name: str | None = typer.Argument(None, help="Only this model."),
    limit: int = typer.Option(20, "--limit", "-n"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recent deployments and rollbacks, newest first."""
    from mlops_tui import timefmt
    from mlops_tui.services import deploys

    with session() as ctx:
        rows = deploys.deployments(ctx, name, limit=limit)
    if as_json:
        output.emit_json([output.record(r) for r in rows])
        return
    if not rows:
        output.info("no deployments yet")
        return
    table = [
        (
            f"#{d.id}",
            d.model,
            f"v{d.version}",
            d.kind,
            d.status.value + (" (rolled back)" if d.rolled_back else ""),
            timefmt.local(d.started_at),
            f"{d.duration:.0f}s" if d.duration is not None else "-",
            d.actor,
            d.error or d.image or "",
        )
        for d in rows
    ]
    output.write(
        output.table(
            ("DEPLOY", "MODEL", "VER", "KIND", "STATUS", "STARTED", "TOOK", "BY", "DETAIL"),
            table,
            shrink=((8, 10), (1, 12)),
            colours=(None, None, None, None, RUN_COLOURS),
            hide=(1,) if name is not None else (),
        )
    )


def _check_round(ctx: Context, name: str | None) -> tuple[list[str], bool]:
    """One round of checks: a line per model (a model that cannot be checked says why and
    the others go on), and whether one is critical."""
    from mlops_tui.domain import Health
    from mlops_tui.errors import MlopsError, NothingToCheck
    from mlops_tui.services import monitoring

    lines, critical = [], False
    for m, outcome in monitoring.check_round(ctx, name):
        if isinstance(outcome, NothingToCheck):
            lines.append(f"{m.name}: skipped (no health check or metrics in its mlops.toml)")
            continue
        if isinstance(outcome, MlopsError):
            lines.append(f"{m.name}: check failed: {outcome.message}")
            continue
        lines.append(outcome.line())
        critical = critical or outcome.check.health == Health.CRITICAL
    return lines, critical


def check(
    name: str | None = typer.Argument(
        None, help="Only this model (default: every production one)."
    ),
    watch: bool = typer.Option(False, "--watch", help="Keep checking until Ctrl+C."),
    interval: str = typer.Option("30s", "--interval", help="Time between rounds with --watch."),
) -> None:
    """Check production models: health, metrics against thresholds, PromQL.

    Stores each result, updates health, opens an alert on a critical threshold and, with
    on_drift = "plan", sends the model back to Plan. Exits 1 when a model is critical.
    """
    import time
    from datetime import UTC, datetime

    from mlops_tui import domain, modelconfig, timefmt
    from mlops_tui.errors import InvalidInput, MlopsError

    seconds = modelconfig.parse_duration(interval, "--interval")
    if seconds < 1:
        raise InvalidInput("--interval must be at least 1s")
    if name is not None:
        domain.validate_model_name(name)
    if not watch:
        with session() as ctx:
            lines, critical = _check_round(ctx, name)
        if not lines:
            output.info("no production models to check (deploy one first)")
        for line in lines:
            output.write(line + "\n")
        if critical:
            raise typer.Exit(1)
        return
    try:
        while True:
            started = time.monotonic()
            stamp = timefmt.local(datetime.now(UTC))
            try:
                with session() as ctx:
                    lines, _ = _check_round(ctx, name)
            except MlopsError as exc:  # the database or the model is gone: go on
                lines = [f"check failed: {exc.cli_message}"]
            for line in lines or ["no production models to check"]:
                output.write(f"{stamp}  {line}\n")
            sys.stdout.flush()
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    except KeyboardInterrupt:
        output.info("stopped watching")


def alerts(
    name: str | None = typer.Argument(None, help="Only this model."),
    show_all: bool = typer.Option(False, "--all", help="Resolved alerts too."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Alerts still open or acknowledged, newest first (acknowledge with `mlops ack ID`)."""
    from mlops_tui import timefmt
    from mlops_tui.services import monitoring

    with session() as ctx:
        rows = monitoring.alerts(ctx, name, include_resolved=show_all)
    if as_json:
        output.emit_json([output.record(a) for a in rows])
        return
    if not rows:
        output.info("no alerts" if show_all else "no open alerts")
        return
    table = [
        (
            f"#{a.id}",
            a.model,
            a.metric,
            a.status.value,
            timefmt.local(a.opened_at),
            a.acked_by or "-",
            a.detail + (f" · {a.note}" if a.note else ""),
        )
        for a in rows
    ]
    output.write(
        output.table(
            ("ALERT", "MODEL", "METRIC", "STATUS", "OPENED", "ACK BY", "DETAIL"),
            table,
            shrink=((6, 12),),
            colours=(None, None, None, ALERT_COLOURS),
            hide=(1,) if name is not None else (),
        )
    )


def ack(
    alert_id: int = typer.Argument(..., metavar="ID", help="The alert's number."),
    note: str | None = typer.Option(None, "--note", "-n", help="What you are doing about it."),
) -> None:
    """Acknowledge an alert: you are on it.

    It stays listed until a check finds the metric recovered.
    """
    from mlops_tui.services import monitoring

    with session() as ctx:
        alert = monitoring.ack(ctx, alert_id, note)
    output.write(f"alert #{alert.id} on {alert.model} ({alert.metric}) acknowledged\n")


def record_test(
    name: str,
    version: int = typer.Option(..., "--version", help="The version CI tested."),
    passed: bool = typer.Option(None, "--passed/--failed", help="The outcome."),
    url: str | None = typer.Option(None, "--url", help="Link to the CI run."),
    junit: Path | None = typer.Option(None, "--junit", help="CI's JUnit XML report."),
) -> None:
    """Record a test run from external CI (with its JUnit counts when given)."""
    from mlops_tui.errors import InvalidInput
    from mlops_tui.services import testing

    if passed is None:
        raise InvalidInput("say how it went: --passed or --failed")
    data = None
    if junit is not None:
        try:
            data = junit.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {junit}: {exc.strerror}") from None
    with session() as ctx:
        run = testing.record(ctx, name, version=version, passed=passed, url=url, junit=data)
    output.write(f"recorded test run #{run.id} of {run.model} v{run.version}: {run.status}\n")


def record_deploy(
    name: str,
    version: int = typer.Option(..., "--version", help="The version deployed."),
    failed: bool = typer.Option(False, "--failed", help="The deployment failed."),
    url: str | None = typer.Option(None, "--url", help="Link to the release."),
) -> None:
    """Record a deployment made by another system (Argo CD, a release pipeline)."""
    from mlops_tui.services import deploys

    with session() as ctx:
        result = deploys.record(ctx, name, version=version, failed=failed, url=url)
    d = result.deployment
    output.write(f"recorded deployment #{d.id} of {d.model} v{d.version}: {d.status}\n")
