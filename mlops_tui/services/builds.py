"""Building a model version from a commit, and recording builds that ran elsewhere.

A version is its inputs: the commit, the data reference and the parameters. The build reads
its configuration and its files from the committed tree, never from the working copy, so the
same inputs always mean the same version number.
"""

from __future__ import annotations

import json
import os
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_tui import domain, modelconfig
from mlops_tui.domain import (
    BUILD_FINISHED,
    BUILD_RECORDED,
    BUILD_STARTED,
    Build,
    BuildStatus,
    Model,
    NewEvent,
    Version,
)
from mlops_tui.errors import (
    BuildCancelled,
    ConfigError,
    InvalidInput,
    no_repository,
)
from mlops_tui.services import gate, runs
from mlops_tui.services.context import Context
from mlops_tui.store import Change, schema
from mlops_tui.store.unit import Tx


@dataclass
class BuildResult:
    build: Build
    model: Model
    warnings: list[str] = field(default_factory=list)


def _params(repo: Any, sha: str, cfg: modelconfig.ModelConfig) -> dict[str, Any]:
    if not cfg.params_file:
        return dict(cfg.params)
    raw = repo.read(sha, cfg.params_file)
    where = f"{cfg.params_file} at {sha[:12]}"
    if raw is None:
        raise ConfigError(where, "the params file is not in this commit")
    try:
        text = raw.decode()
        data = json.loads(text) if cfg.params_file.endswith(".json") else tomllib.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(where, f"cannot read it: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(where, "must hold a table of parameters")
    return data


def builds(ctx: Context, model: str | None = None, limit: int = 20) -> list[Build]:
    """Recent builds, newest first; one whose process died shows as interrupted (the
    record says so once someone next builds the model)."""
    if model is not None:
        ctx.store.get_model(domain.validate_model_name(model))
    return [runs.as_seen(b) for b in ctx.store.rows(schema.BUILDS, model=model, limit=limit)]


@gate.writes("build", model="name")
def build(
    ctx: Context,
    name: str,
    *,
    ref: str = "HEAD",
    on_line: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    engine: Any = None,
) -> BuildResult:
    """Build `name` at `ref` with Docker and record the version and the build.

    Raises InvalidInput/ConfigError/GitError before anything is recorded (nothing was
    attempted); BuildFailed, BuildCancelled or EngineError after the failed attempt was
    recorded.
    """
    from mlops_tui.adapters.docker_engine import DockerEngine
    from mlops_tui.adapters.git_repo import GitRepo

    name = domain.validate_model_name(name)
    model = ctx.store.get_model(name)
    gate.check(ctx, model)
    if not model.repo:
        raise no_repository(name)
    repo = GitRepo(model.repo)
    sha = repo.resolve(ref)
    warnings = []
    dirty = repo.dirty_files()
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        warnings.append(f"uncommitted changes are not in the image: {shown}")
    raw = repo.read(sha, modelconfig.FILENAME)
    cfg = modelconfig.parse(
        raw.decode() if raw is not None else None, f"{modelconfig.FILENAME} at {sha[:12]}"
    )
    dockerfile = os.path.normpath(os.path.relpath(cfg.dockerfile, cfg.context))
    if dockerfile.startswith(".."):
        raise ConfigError(
            f"{modelconfig.FILENAME}: [build].dockerfile", "must be inside the build context"
        )
    if repo.read(sha, os.path.normpath(cfg.dockerfile)) is None:
        raise InvalidInput(f"no {cfg.dockerfile} in {model.repo} at {sha[:12]} (commit it first)")
    params = _params(repo, sha, cfg)
    # Read before anything is recorded: a context whose symlinks leave it is refused here.
    context = repo.archive(sha, cfg.context)
    inputs = domain.inputs_key(sha, cfg.data_ref, params)
    runs.reap_interrupted(ctx, runs.BUILDS, name)
    engine = engine or DockerEngine()
    host, pid = runs.here()
    started = _start(
        ctx,
        {"model": name, "inputs": inputs, "commit_sha": sha, "ref": ref, "host": host, "pid": pid},
        ctx.event(BUILD_STARTED, name, ref=ref, commit=sha),
    )
    tag = f"{cfg.image or name}:v{started.version}"
    labels = {
        "org.opencontainers.image.revision": sha,
        "org.opencontainers.image.source": model.repo,
        # The commit's time, not the build's: the same inputs give the same labels.
        "org.opencontainers.image.created": repo.commit_time(sha).isoformat(),
        "org.opencontainers.image.title": name,
        "org.opencontainers.image.version": f"v{started.version}",
        "io.mlops-tui.model": name,
        "io.mlops-tui.version": str(started.version),
        "io.mlops-tui.inputs": inputs,
        "io.mlops-tui.data-ref": cfg.data_ref or "",
    }
    log = runs.Log(on_line)

    def finish(
        status: BuildStatus, error: str | None = None, version: Version | None = None
    ) -> tuple[Build, Change]:
        ended: dict[str, Any] = {"status": status, "error": error, "log_tail": log.tail}
        if version is not None:
            ended["image"] = version.image
        event = ctx.event(BUILD_FINISHED, name, **({"error": error} if error else {}))
        return _finish(ctx, started.id, ended, event, version)

    with runs.recorded(
        finish,
        failed=BuildStatus.FAILED,
        cancelled=BuildStatus.CANCELLED,
        cancels=(BuildCancelled,),
    ):
        built = log.follow(
            engine.build(
                context,
                tag=tag,
                dockerfile=dockerfile,
                labels=labels,
                build_args=cfg.build_args,
                target=cfg.target,
                cancel=cancel,
            )
        )
    version = Version(
        model=name,
        number=started.version,
        inputs=inputs,
        commit=sha,
        data_ref=cfg.data_ref,
        params=params,
        image=tag,
        image_id=built.id,
        created_at=ctx.clock(),
        created_by=ctx.actor,
    )
    done, change = finish(BuildStatus.SUCCEEDED, version=version)
    return BuildResult(done, change.model, warnings)


@gate.writes("build", model="name")
def record(
    ctx: Context,
    name: str,
    *,
    commit: str,
    image: str,
    failed: bool = False,
    url: str | None = None,
) -> BuildResult:
    """A build that ran in external CI (Jenkins, GitLab CI…), kept in the same history."""
    name = domain.validate_model_name(name)
    sha = domain.validate_sha(commit)
    image = domain.clean_text(image, "image", 512) or ""
    if not image or any(c.isspace() for c in image) or image.startswith("-"):
        raise InvalidInput(f"invalid image reference {image!r}")
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInput(f"invalid URL {url!r}: it must start with http:// or https://")
    inputs = domain.inputs_key(sha, None, {})
    gate.check(ctx, ctx.store.get_model(name))
    runs.reap_interrupted(ctx, runs.BUILDS, name)
    started = _start(
        ctx,
        {"model": name, "inputs": inputs, "commit_sha": sha},
        ctx.event(BUILD_RECORDED, name, commit=sha, image=image),
    )
    version = None
    if not failed:
        version = Version(
            model=name,
            number=started.version,
            inputs=inputs,
            commit=sha,
            data_ref=None,
            params={},
            image=image,
            image_id=None,
            created_at=ctx.clock(),
            created_by=ctx.actor,
        )
    ended: dict[str, Any] = {
        "status": BuildStatus.FAILED if failed else BuildStatus.SUCCEEDED,
        "image": image,
        "error": "reported as failed by external CI" if failed else None,
    }
    if url is not None:
        ended["url"] = url
    event = ctx.event(BUILD_FINISHED, name, external=True, **({"url": url} if url else {}))
    done, change = _finish(ctx, started.id, ended, event, version)
    return BuildResult(done, change.model)


def _start(ctx: Context, values: dict[str, Any], event: NewEvent) -> Build:
    """Record a build as running, numbered by `_number` while the model is held, so two
    builds at once never take one number for different inputs."""
    with ctx.store.transaction() as tx:
        tx.models.lock(values["model"])
        number = _number(tx, values["model"], values["inputs"])
        build = tx.runs(schema.BUILDS).start(
            {**values, "version": number, "started_at": event.at, "actor": ctx.actor}
        )
        tx.events.append(event.add(build=build.id, version=number))
    return build


def _number(tx: Tx, name: str, inputs: str) -> int:
    """The version these inputs already have (a version, or an earlier build of them, even
    one that failed), or one past the highest number the model has used."""
    versions, builds = tx.rows(schema.VERSIONS), tx.rows(schema.BUILDS)
    if (version := versions.get(model=name, inputs=inputs)) is not None:
        return version.number
    if (build := builds.get(model=name, inputs=inputs, order="id DESC")) is not None:
        return build.version
    top = versions.get(model=name, order="number DESC")
    top_build = builds.get(model=name, order="version DESC")
    return max(top.number if top else 0, top_build.version if top_build else 0) + 1


def _finish(
    ctx: Context,
    build_id: int,
    ended: Mapping[str, Any],
    event: NewEvent,
    version: Version | None,
) -> tuple[Build, Change]:
    """End the build; a successful one keeps its version (a rebuild of the same inputs
    refreshes only the image) and makes it the model's."""
    if version is None:
        return runs.finish(ctx, runs.BUILDS, build_id, ended, event)

    def keep(tx: Tx, build: Build, event: NewEvent) -> Model:
        tx.rows(schema.VERSIONS).upsert(version, ["model", "number"], only=["image", "image_id"])
        return tx.models.revise_held(build.model, {"version": version.number}, event)

    return runs.finish(ctx, runs.BUILDS, build_id, ended, event, keep)
