"""Deploying a version and rolling back: the built-in target runs the image as the container
`mlops-NAME` on this machine; a custom target runs the configured command. A deployment is
recorded as succeeded, and the production version changes, only once the health check passed.

Replacing a running production container on the same port: the old one is stopped (not
removed), the new one starts under a temporary name and must pass its health check; then the
old one is removed and the new one renamed. If the check fails, the new one is removed and the
old one started again, so the previous version keeps serving.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mlops_tui import domain, modelconfig
from mlops_tui.domain import (
    DEPLOY_FINISHED,
    DEPLOY_STARTED,
    Deployment,
    Model,
    NewEvent,
    RunStatus,
    Stage,
    Version,
)
from mlops_tui.errors import (
    ApprovalMissing,
    DeployFailed,
    EngineError,
    InvalidInput,
    MlopsError,
    MoveRefused,
)
from mlops_tui.services import gate, loopcfg, runs
from mlops_tui.services.context import Context
from mlops_tui.store import Change, schema
from mlops_tui.store.unit import Tx

CUSTOM_TIMEOUT = 600.0
# How long a container without any health check must keep running to count as up.
NO_CHECK_GRACE = 2.0


@dataclass
class DeployResult:
    deployment: Deployment
    model: Model
    warnings: list[str] = field(default_factory=list)


def container_name(model: str) -> str:
    return f"mlops-{model}"


def deployments(ctx: Context, model: str | None = None, limit: int = 20) -> list[Deployment]:
    """Deployments and rollbacks, newest first (one whose process died reads as
    interrupted)."""
    if model is not None:
        ctx.store.get_model(domain.validate_model_name(model))
    return [runs.as_seen(d) for d in ctx.store.rows(schema.DEPLOYMENTS, model=model, limit=limit)]


def _fill(argv: list[str], image: str, version: int, model: str) -> list[str]:
    """{image}, {version} and {model} in each argument; nothing else is expanded."""
    values = {"image": image, "version": str(version), "model": model}
    return [re.sub(r"\{(image|version|model)\}", lambda m: values[m.group(1)], a) for a in argv]


class _Run(runs.Log):
    """One deployment attempt: its log, and how it ends."""

    def __init__(self, ctx: Context, dep: Deployment, on_line: Callable[[str], None] | None):
        super().__init__(on_line)
        self.ctx, self.dep = ctx, dep

    def finish(
        self,
        status: RunStatus,
        error: str | None = None,
        *,
        rolled_back: bool = False,
        stale_at: datetime | None = None,
    ) -> tuple[Deployment, Change]:
        extra = {"error": error} if error else {}
        event = self.ctx.event(DEPLOY_FINISHED, self.dep.model, **extra)
        ended = {
            "status": status,
            "error": error,
            "log_tail": self.tail,
            "rolled_back": rolled_back,
        }
        return _finish(self.ctx, self.dep, ended, event, stale_at)


def _health_probe(cfg: modelconfig.ModelConfig) -> Callable[[], str | None] | None:
    from mlops_tui.adapters import health

    if cfg.deploy_health_command:
        return lambda: health.probe_command(cfg.deploy_health_command)
    port, path = cfg.deploy_port, cfg.deploy_health
    if path and port:
        return lambda: health.probe_http(port, path)
    return None


def _container(
    run: _Run, engine: Any, name: str, v: Version, cfg: modelconfig.ModelConfig
) -> tuple[str | None, bool]:
    """Start `v` as the production container. Returns (why it failed or None, whether the
    previous container was put back)."""
    from mlops_tui.adapters import health

    final, temp = container_name(name), f"{container_name(name)}-next"
    leftover = engine.container(temp)
    if leftover is not None:
        engine.remove(leftover)
    old = engine.container(final)
    old_running = old is not None and engine.state(old).get("Running", False)
    if old_running:
        run.say(f"stopping {final} (kept, to be put back if v{v.number} fails its check)")
        engine.stop(old)
    env = dict(cfg.deploy_env)
    if cfg.deploy_port:
        env["PORT"] = str(cfg.deploy_port)
    labels = {"io.mlops-tui.model": name, "io.mlops-tui.version": str(v.number)}
    new = None
    probe = _health_probe(cfg)

    def put_back(reason: str) -> tuple[str, bool]:
        if new is not None:
            for line in list(engine.logs_tail(new))[-20:]:
                run.say(f"│ {line}")
            engine.remove(new)
        if not old_running:
            return reason, False
        run.say(f"putting {final} back")
        try:
            engine.start(old)
        except EngineError as exc:
            return f"{reason}; and the previous container did not restart: {exc.message}", False
        # Started is not serving: "keeps serving" is said only once it answers again.
        if probe is not None:
            down = health.wait_until(probe, cfg.deploy_timeout, gone=lambda: _exited(engine, old))
            if down:
                return f"{reason}; and the previous container did not answer again: {down}", False
        return reason, True

    try:
        where = f" on 127.0.0.1:{cfg.deploy_port}" if cfg.deploy_port else ""
        run.say(f"starting {v.image} as {temp}{where}")
        new = engine.run(v.runnable, name=temp, environment=env, labels=labels, network_mode="host")

        def gone() -> str | None:
            return _exited(engine, new)

        if probe is None:
            run.say(f"no health check configured: waiting {NO_CHECK_GRACE:g}s for it to stay up")
            time.sleep(min(NO_CHECK_GRACE, cfg.deploy_timeout))
            why = gone()
        else:
            what = cfg.deploy_health or " ".join(cfg.deploy_health_command)
            run.say(f"waiting up to {cfg.deploy_timeout:g}s for {what} to answer")
            why = health.wait_until(probe, cfg.deploy_timeout, gone=gone)
        if why:
            run.say(f"health check failed: {why}")
            return put_back(why)
    except EngineError as exc:
        return put_back(exc.message)
    except BaseException:
        put_back("interrupted")
        raise
    if old is not None:
        engine.remove(old)
    engine.rename(new, final)
    engine.keep_running(new)
    run.say(f"{final} is serving v{v.number}")
    return None, False


def _exited(engine: Any, container: Any) -> str | None:
    """Why waiting for the container is pointless: it is no longer running."""
    state = engine.state(container)
    if state.get("Running"):
        return None
    return f"the container exited with code {state.get('ExitCode')}"


def _command(run: _Run, name: str, v: Version, cfg: modelconfig.ModelConfig) -> str | None:
    """Run the custom target's command, then its health_command if any."""
    from mlops_tui.adapters import health

    argv = _fill(cfg.deploy_command, v.image or "", v.number, name)
    run.say("running " + " ".join(argv))
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError):
        return f"[deploy].command: {argv[0]!r} cannot be run here"
    timer = threading.Timer(CUSTOM_TIMEOUT, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            run.say("│ " + raw.decode(errors="replace").rstrip("\n"))
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
    if code != 0:
        return f"{argv[0]} exited with {code}"
    if cfg.deploy_health_command:
        run.say("waiting for health_command")
        return health.wait_until(
            lambda: health.probe_command(cfg.deploy_health_command), cfg.deploy_timeout
        )
    return None


def _stage_tag(ctx: Context, model: Model, v: Version) -> str | None:
    """GTO's stage assignment `NAME#prod#K` on the version's commit; a warning when it fails."""
    from mlops_tui.services import gitops

    if not model.repo or not v.commit or "://" in model.repo or model.repo.startswith("git@"):
        return None
    try:
        gitops.version_tag(model.name, v.number)  # GTO's naming rule
        repo = gitops.open_repo(ctx, model.name)
        numbers = [
            int(t.rsplit("#", 1)[1])
            for t in repo.tags(f"{model.name}#prod#")
            if t.rsplit("#", 1)[1].isdigit()
        ]
        tag = f"{model.name}#prod#{max(numbers, default=0) + 1}"
        repo.tag(tag, v.commit, f"{model.name} v{v.number} deployed to prod (mlops-tui)")
    except MlopsError as exc:
        ctx.record("git.tag", model.name, ok=False, error=exc.message)
        return f"could not add GTO's prod tag: {exc.message}"
    ctx.record("git.tag", model.name, ok=True, tag=tag, commit=v.commit, version=v.number)
    return None


def _deploy(
    ctx: Context,
    model: Model,
    v: Version,
    *,
    kind: str,
    on_line: Callable[[str], None] | None,
    engine: Any,
) -> DeployResult:
    cfg = loopcfg.config_of(model, v)
    custom = bool(cfg.deploy_command)
    if not custom:
        if not v.image:
            raise InvalidInput(f"{model.name} v{v.number} has no image to deploy")
        if engine is None:
            from mlops_tui.adapters.docker_engine import DockerEngine

            engine = DockerEngine()  # unreachable: one clear error, nothing recorded
    host, pid = runs.here()
    runs.reap_interrupted(ctx, runs.DEPLOYMENTS, model.name)
    target = "command" if custom else "container"
    dep = runs.start(
        ctx,
        runs.DEPLOYMENTS,
        {
            "model": model.name,
            "version": v.number,
            "kind": kind,
            "target": target,
            "image": v.image,
            "previous_version": model.production_version,
            "host": host,
            "pid": pid,
        },
        ctx.event(DEPLOY_STARTED, model.name, image=v.image).add(kind=kind, target=target),
    )
    run = _Run(ctx, dep, on_line)
    rolled_back = False
    with runs.recorded(run.finish, failed=RunStatus.FAILED, cancelled=RunStatus.CANCELLED):
        if custom:
            why = _command(run, model.name, v, cfg)
        else:
            why, rolled_back = _container(run, engine, model.name, v, cfg)
    if why:
        run.finish(RunStatus.FAILED, why, rolled_back=rolled_back)
        serving = (
            f"; v{model.production_version} keeps serving"
            if rolled_back and model.production_version is not None
            else ""
        )
        raise DeployFailed(
            f"{kind} of {model.name} v{v.number} failed: {why}{serving} (deployment #{dep.id})"
        )
    stale_at = ctx.clock() + timedelta(seconds=cfg.monitor_max_age)
    done, change = run.finish(RunStatus.SUCCEEDED, stale_at=stale_at)
    warnings = []
    warning = _stage_tag(ctx, change.model, v)
    if warning:
        warnings.append(warning)
    return DeployResult(done, change.model, warnings)


@gate.writes("deploy", model="name")
def deploy(
    ctx: Context,
    name: str,
    *,
    version: int | None = None,
    on_line: Callable[[str], None] | None = None,
    engine: Any = None,
) -> DeployResult:
    """Deploy `name`'s candidate version (or `version`), which must be in stage deploy.

    A version other than the candidate needs a passed test run of its own. Raises
    MoveRefused/InvalidInput/EngineError before anything is recorded, DeployFailed after
    the failed (and, for a container, rolled back) attempt was recorded.
    """
    name = domain.validate_model_name(name)
    model = ctx.store.get_model(name)
    gate.check(ctx, model)
    deployable(model)
    v = loopcfg.version_of(ctx, model, version)
    if v.number != model.version:
        latest = ctx.store.rows(schema.TEST_RUNS, model=name, version=v.number, limit=1)
        missing = domain.test_gate(v.number, latest[0] if latest else None)
        if missing:
            raise MoveRefused(f"cannot deploy {name} v{v.number}: {missing}")
    from mlops_tui.services import approvals  # approvals before production

    approvals.request(ctx, name, v.number)
    if why := approvals.missing(ctx, model, v.number):
        raise ApprovalMissing(
            f"cannot deploy: {why}", **approvals.approve_hint(name, v.number, why)
        )
    return _deploy(ctx, model, v, kind="deploy", on_line=on_line, engine=engine)


@gate.writes("rollback", model="name")
def rollback(
    ctx: Context,
    name: str,
    *,
    to: int | None = None,
    on_line: Callable[[str], None] | None = None,
    engine: Any = None,
) -> DeployResult:
    """Deploy an earlier version that once deployed successfully (default: the one before
    the current production version), the same way as a deploy, recorded as a rollback. The
    model's stage is left alone: a rollback restores service, it does not move the loop."""
    name = domain.validate_model_name(name)
    model = ctx.store.get_model(name)
    gate.check(ctx, model)
    v = loopcfg.version_of(ctx, model, rollback_target(ctx, name, to))
    return _deploy(ctx, model, v, kind="rollback", on_line=on_line, engine=engine)


def rollback_target(ctx: Context, name: str, to: int | None = None) -> int:
    """The version a rollback would return to: `to`, checked, or the newest successful
    deployment of another version than production's. Raises InvalidInput."""
    model = ctx.store.get_model(domain.validate_model_name(name))
    good = ctx.store.rows(schema.DEPLOYMENTS, model=name, status=RunStatus.SUCCEEDED)
    if to is None:
        earlier = [d.version for d in good if d.version != model.production_version]
        if not earlier:
            raise InvalidInput(f"{name} has no earlier successful deployment to roll back to")
        return earlier[0]
    if to == model.production_version:
        raise InvalidInput(f"{name} v{to} is already the production version")
    if to not in {d.version for d in good}:
        raise InvalidInput(
            f"{name} v{to} was never deployed successfully: roll back only to a version "
            "that served",
            cli=f"see `mlops deployments {name}`",
        )
    return to


def summary(result: DeployResult) -> str:
    d = result.deployment
    took = f" in {d.duration:.1f}s" if d.duration is not None else ""
    where = container_name(d.model) if d.target == "container" else "the custom target"
    if d.kind == "rollback":
        return f"rolled {d.model} back to v{d.version} on {where}{took} (deployment #{d.id})"
    return f"deployed {d.model} v{d.version} to {where}{took} (deployment #{d.id})"


def deployable(model: Model) -> None:
    """Deploying needs the model in stage deploy. Raises MoveRefused saying so."""
    if model.stage != Stage.DEPLOY:
        raise MoveRefused(
            f"{model.name} is in {model.stage}: deploying needs it in stage deploy, "
            "so move it there first",
            cli=f"or, to go back to an earlier version, `mlops rollback {model.name}`",
        )


def describe_target(ctx: Context, name: str, version: int | None = None) -> str:
    """What a deploy would do, for a confirmation: version and target."""
    model = ctx.store.get_model(domain.validate_model_name(name))
    v = loopcfg.version_of(ctx, model, version)
    cfg = loopcfg.config_of(model, v)
    if cfg.deploy_command:
        target = " ".join(_fill(cfg.deploy_command, v.image or "", v.number, name))
    else:
        port = f" on 127.0.0.1:{cfg.deploy_port}" if cfg.deploy_port else ""
        target = f"container {container_name(name)}{port}"
    return f"{name} v{v.number} ({v.image}) → {target}"


@gate.writes("deploy", model="name")
def record(
    ctx: Context,
    name: str,
    *,
    version: int,
    failed: bool = False,
    url: str | None = None,
) -> DeployResult:
    """A deployment made by another system (Argo CD, a release pipeline), kept in the same
    history and gate; a successful one sets the production version."""
    name = domain.validate_model_name(name)
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInput(f"invalid URL {url!r}: it must start with http:// or https://")
    model = ctx.store.get_model(name)
    gate.check(ctx, model)
    v = loopcfg.version_of(ctx, model, version)
    from mlops_tui.services import approvals

    # A deployment made elsewhere is still production: the same approvals stand before it.
    runs.reap_interrupted(ctx, runs.DEPLOYMENTS, name)
    if not failed:
        approvals.request(ctx, name, v.number)
    if not failed and (why := approvals.missing(ctx, model, v.number)):
        raise ApprovalMissing(
            f"cannot record the deployment: {why}", **approvals.approve_hint(name, v.number, why)
        )
    dep = runs.start(
        ctx,
        runs.DEPLOYMENTS,
        {
            "model": name,
            "version": v.number,
            "kind": "deploy",
            "target": "external",
            "image": v.image,
            "previous_version": model.production_version,
        },
        ctx.event(DEPLOY_STARTED, name, external=True, **({"url": url} if url else {})).add(
            kind="deploy", target="external"
        ),
    )
    cfg = loopcfg.config_of(model, v)
    ended = {
        "status": RunStatus.FAILED if failed else RunStatus.SUCCEEDED,
        "error": "reported as failed" if failed else None,
        "log_tail": url or "",
    }
    stale_at = ctx.clock() + timedelta(seconds=cfg.monitor_max_age)
    event = ctx.event(DEPLOY_FINISHED, name, external=True)
    done, change = _finish(ctx, dep, ended, event, stale_at)
    return DeployResult(done, change.model)


def _finish(
    ctx: Context,
    dep: Deployment,
    ended: Mapping[str, Any],
    event: NewEvent,
    stale_at: datetime | None,
) -> tuple[Deployment, Change]:
    """End the deployment. A successful one makes its version the model's production
    version and starts its monitoring clock (`stale_at`), in the same transaction."""
    event = event.add(kind=dep.kind)
    if ended.get("rolled_back"):
        event = event.add(rolled_back=True)
    if ended["status"] != RunStatus.SUCCEEDED:
        return runs.finish(ctx, runs.DEPLOYMENTS, dep.id, ended, event)
    event = event.add(previous_version=dep.previous_version)

    def serve(tx: Tx, done: Deployment, event: NewEvent) -> Model:
        model = tx.models.revise_held(done.model, {"production_version": done.version}, event)
        if stale_at is not None:
            clock = {"model": done.model, "stale_at": stale_at}
            tx.rows(schema.MONITORING).upsert(clock, ["model"])
        return model

    return runs.finish(ctx, runs.DEPLOYMENTS, dep.id, ended, event, serve)
