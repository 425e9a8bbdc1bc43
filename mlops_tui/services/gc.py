"""Clean-up that never deletes what is live: old images and stopped containers of the tool.

Kept, per model: the production version, the previous production version (what a rollback
needs), every tagged version (`mlops git NAME tag`, GTO's `NAME#prod#N` tags, and tags of
the model in its repository), the candidate version and every version built in the current
iteration. Only images and containers labelled with a model of *this* database are
considered, so a shared engine's other teams and test runs are never touched. What is
removed is recorded, one `gc.removed` event per model.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_tui.domain import BUILD_FINISHED, GC_REMOVED, MODEL_MOVED, Model
from mlops_tui.errors import MlopsError
from mlops_tui.services import gate
from mlops_tui.services.context import Context
from mlops_tui.store import schema

if TYPE_CHECKING:
    from mlops_tui.adapters.docker_gc import Found


@dataclass
class Decision:
    item: Found
    keep: str | None  # why it stays, or None when it goes
    error: str | None = None  # the engine refused to remove it


@dataclass
class Report:
    decisions: list[Decision] = field(default_factory=list)
    dry_run: bool = False

    @property
    def removed(self) -> list[Decision]:
        return [d for d in self.decisions if d.keep is None and d.error is None]

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if d.keep is not None]

    @property
    def failed(self) -> list[Decision]:
        return [d for d in self.decisions if d.keep is None and d.error is not None]


def protected(ctx: Context, model: Model) -> dict[int, str]:
    """Version -> why it must stay."""
    from mlops_tui.services import timetravel

    keep: dict[int, str] = {}

    def add(version: object, why: str) -> None:
        if isinstance(version, int) and version not in keep:
            keep[version] = why

    add(model.production_version, "production")
    state = timetravel.model_state(ctx, model.name) or {}
    add(state.get("previous_production"), "previous production")
    add(model.version, "candidate")
    iteration_started = 0
    built: list[tuple[int, int]] = []
    for e in ctx.store.replay_events(model=model.name, kinds=(MODEL_MOVED, BUILD_FINISHED)):
        if e.kind == MODEL_MOVED and e.data.get("move") == "iteration":
            iteration_started = e.id
        elif (
            e.kind == BUILD_FINISHED
            and e.data.get("status") == "succeeded"
            and isinstance(version := e.data.get("version"), int)
        ):
            built.append((e.id, version))
    for event_id, version in built:
        if event_id > iteration_started:
            add(version, f"built in iteration {model.iteration}")
    for e in ctx.store.replay_events(model=model.name, kinds=("git.tag",)):
        if e.data.get("ok", True):
            add(e.data.get("version"), f"tagged {e.data.get('tag')}")
    for version, tag in _repo_tags(ctx, model):
        add(version, f"tagged {tag}")
    return keep


def _repo_tags(ctx: Context, model: Model) -> list[tuple[int, str]]:
    """Tags of the model in its local repository (made by hand or by GTO), as versions."""
    if not model.repo or "://" in model.repo or model.repo.startswith("git@"):
        return []
    try:
        from mlops_tui.adapters.git_repo import GitRepo

        repo = GitRepo(model.repo)
        by_commit: dict[str, list[int]] = defaultdict(list)
        for v in ctx.store.rows(schema.VERSIONS, model=model.name, order="number DESC"):
            if v.commit:
                by_commit[v.commit].append(v.number)
        out = []
        for tag in repo.tags(f"{model.name}@") + repo.tags(f"{model.name}#"):
            for number in by_commit.get(repo.resolve(tag), []):
                out.append((number, tag))
        return out
    except MlopsError:
        return []  # no repository any more: the recorded tags above still count


def _known(ctx: Context, name: str) -> tuple[set[str], set[str], set[str]]:
    """What identifies this database's builds of `name`: inputs, image ids, image tags."""
    versions = ctx.store.rows(schema.VERSIONS, model=name, order="number DESC")
    return (
        {v.inputs for v in versions},
        {v.image_id for v in versions if v.image_id},
        {v.image for v in versions if v.image},
    )


def _ours(item: Found, inputs: set[str], ids: set[str], tags: set[str]) -> bool:
    """Model names repeat across databases sharing an engine: an image is ours when its
    inputs label (commit, data and parameters) or its id is one of our versions'."""
    if item.inputs is not None:
        return item.inputs in inputs
    return item.image_id in ids or (item.kind == "image" and item.ref in tags)


def collect(ctx: Context, *, dry_run: bool = False, engine: Any = None) -> Report:
    """Decide what goes and, unless `dry_run`, remove it and record it. A dry run reads
    only; removing needs a maintainer or an admin."""
    if dry_run:
        return _collect(ctx, dry_run=True, engine=engine)
    return _remove(ctx, engine=engine)


@gate.writes("gc")
def _remove(ctx: Context, *, engine: Any = None) -> Report:
    return _collect(ctx, dry_run=False, engine=engine)


def _collect(ctx: Context, *, dry_run: bool, engine: Any) -> Report:
    from mlops_tui.adapters import docker_gc
    from mlops_tui.adapters.docker_engine import DockerEngine

    engine = engine or DockerEngine()
    models = {m.name: m for m in ctx.store.list_models()}
    found = docker_gc.stopped_containers(engine) + docker_gc.images(engine)
    report = Report(dry_run=dry_run)
    keep_of: dict[str, dict[int, str]] = {}
    ours_of: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for item in found:
        model = models.get(item.model)
        if model is None:
            continue  # another database's model (or another team's): not ours to judge
        if item.model not in keep_of:
            keep_of[item.model] = protected(ctx, model)
            ours_of[item.model] = _known(ctx, model.name)
        if not _ours(item, *ours_of[item.model]):
            continue  # same model name, but built for another database
        why = keep_of[item.model].get(item.version) if item.version is not None else None
        if item.version is None:
            why = "no version label"
        report.decisions.append(Decision(item, why))
    if dry_run:
        return report
    done: dict[str, list[Decision]] = defaultdict(list)
    for d in report.decisions:  # containers first: they hold their images
        if d.keep is None:
            d.error = docker_gc.remove(engine, d.item)
            if d.error is None:
                done[d.item.model].append(d)
    for name, removed in sorted(done.items()):
        ctx.record(
            GC_REMOVED,
            name,
            images=sorted(d.item.ref for d in removed if d.item.kind == "image"),
            containers=sorted(d.item.ref for d in removed if d.item.kind == "container"),
            versions=sorted({d.item.version for d in removed}),
            bytes=sum({d.item.id: d.item.size for d in removed}.values()),
        )
    return report
