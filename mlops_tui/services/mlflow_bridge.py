"""The MLflow bridge: bring a team's MLflow Model Registry in, keep it in step, and move its
production alias when production moves here.

Import and sync read everything they need from MLflow first and then write in one
transaction, so a registry that goes away halfway writes nothing. Every fact brought in is
an event attributed to whoever ran the command, carrying the MLflow ids; what is already
here is not brought in again, so a second import appends nothing.

Production here changes only by a deployment, a rollback or a recorded deployment. After
one, the link's alias is set on the MLflow version it maps to through an outbox built on the
history, as the webhook relay's is: the deployment's event is durable, so a push is queued
exactly once whatever happens to MLflow or the process, and retried with backoff until it
lands. A push runs briefly after every writing command, and in full in `mlops mlflow sync`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlops_tui import domain
from mlops_tui.adapters.mlflow_registry import (
    ModelVersion,
    RegisteredModel,
    Registry,
    Run,
    open_registry,
    validate_tracking_uri,
)
from mlops_tui.domain import (
    DEPLOY_FINISHED,
    MAX_DESCRIPTION,
    MODEL_CREATED,
    Model,
    Stage,
)
from mlops_tui.domain.mlflow import (
    DEFAULT_ALIAS,
    MLFLOW_ALIAS_MOVED,
    MLFLOW_ALIAS_SET,
    MLFLOW_IMPORTED,
    MLFLOW_LINKED,
    MLFLOW_UNLINKED,
    MLFLOW_VERSION,
    AliasPush,
    MlflowLink,
    PushStatus,
    local_name,
    models_uri,
    plain_text,
    validate_alias,
    validate_registered_model,
)
from mlops_tui.errors import (
    InvalidInput,
    MlopsError,
    NotFound,
    RegistryUnreachable,
    no_such,
)
from mlops_tui.services import gate, loopcfg, team
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from mlops_tui.store.unit import Tx

#: the first retry of a push MLflow did not take waits this long, doubling up to the cap
BACKOFF_BASE = 5.0
BACKOFF_CAP = 3600.0
#: what a writing command may spend pushing aliases after it is done
AFTER_WRITE_TIMEOUT = 3.0

Opener = Callable[[str], Registry]


def _open(uri: str, timeout: float = 10.0) -> Registry:
    return open_registry(uri, timeout=timeout)


# -- what an import or sync would change -----------------------------------------------------
@dataclass
class NewVersion:
    """An MLflow version to bring in as version `number` here."""

    number: int
    source: ModelVersion
    #: the rest from the training run, once read (`_fill_runs`)
    run: Run | None = None
    commit: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    author: str | None = None

    @property
    def mlflow_version(self) -> str:
        return self.source.version


@dataclass
class Move:
    """An alias that points elsewhere in MLflow than when it was last seen."""

    alias: str
    before: str | None  # MLflow versions
    after: str | None


@dataclass
class ModelPlan:
    """What bringing in one registered model changes here."""

    registered_model: str
    name: str
    #: the model is created (an import), or already linked (a sync)
    new: bool
    versions: list[NewVersion] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    #: for a new model: its production version here, and why
    production: int | None = None
    production_from: str | None = None
    stage: Stage | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    #: MLflow says production is a version other than production here (a sync)
    drift: str | None = None
    #: MLflow version -> number here, for every version known after the change
    numbers: dict[str, int] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        return self.new or bool(self.versions) or bool(self.moves)


@dataclass
class Report:
    """An import's or a sync's outcome (or, dry, what it would be)."""

    tracking_uri: str
    plans: list[ModelPlan]
    events: int = 0
    dry_run: bool = False
    #: pushes that went out or were tried on the way (a sync)
    pushes: list[AliasPush] = field(default_factory=list)

    @property
    def changed(self) -> list[ModelPlan]:
        return [p for p in self.plans if p.changes]


# -- reading MLflow ---------------------------------------------------------------------------
@dataclass
class _Fetched:
    registered: RegisteredModel
    versions: list[ModelVersion]


def _fetch(registry: Registry, names: Sequence[str] | None) -> list[_Fetched]:
    """The registered models and their versions, read before anything is written (runs
    come later, and only for the versions that will be brought in)."""
    found = registry.registered_models(names)
    if names:
        missing = [n for n in names if n not in {r.name for r in found}]
        if missing:
            known = [r.name for r in registry.registered_models()]
            raise no_such(
                "registered model in MLflow", missing[0], known, cli="see MLflow's Models page"
            )
    every = registry.all_versions([r.name for r in found])
    return [_Fetched(rm, every.get(rm.name, [])) for rm in found]


def _fill_runs(registry: Registry, plans: Iterable[ModelPlan]) -> None:
    """Each version to bring in, completed from its training run: the commit, parameters,
    final metrics and author. Versions already here cost no read."""
    new = [nv for plan in plans for nv in plan.versions]
    runs = registry.runs({nv.source.run_id for nv in new if nv.source.run_id})
    for nv in new:
        run = runs.get(nv.source.run_id) if nv.source.run_id else None
        nv.run = run
        nv.commit = _commit(run)
        nv.params = dict(run.params) if run else {}
        nv.metrics = _finite(run.metrics) if run else {}
        nv.author = (run.tags.get("mlflow.user") if run else None) or nv.source.user_id or None


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {
        k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)
    }


def _commit(run: Run | None) -> str | None:
    if run is None:
        return None
    sha = run.tags.get("mlflow.source.git.commit", "").strip().lower()
    return sha if len(sha) == 40 and not sha.strip("0123456789abcdef") else None


def _when(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


# -- planning ---------------------------------------------------------------------------------
def _known_versions(ctx: Context, model: str, registered_model: str) -> dict[str, int]:
    """MLflow version -> number here, for a model's versions that already are ones:
    brought in before, or built here from `models:/NAME/N`."""
    known = {
        m.mlflow_version: m.number
        for m in ctx.store.rows(schema.MLFLOW_VERSIONS, model=model)
        if m.registered_model == registered_model
    }
    for v in ctx.store.rows(schema.VERSIONS, model=model):
        ref = models_uri(v.data_ref)
        if ref is not None and ref[0] == registered_model:
            known.setdefault(ref[1], v.number)
    return known


def _taken_numbers(ctx: Context, model: str) -> set[int]:
    numbers = {v.number for v in ctx.store.rows(schema.VERSIONS, model=model)}
    return numbers | {b.version for b in ctx.store.rows(schema.BUILDS, model=model)}


#: the version states not brought in (yet): a registration under way, or one that failed
_NOT_READY = ("PENDING_REGISTRATION", "FAILED_REGISTRATION")


def _plan_versions(
    plan: ModelPlan, fetched: _Fetched, known: dict[str, int], taken: set[int]
) -> None:
    """The versions MLflow has and this model has not, numbered as in MLflow where that
    number is free here."""
    plan.numbers = dict(known)
    for mv in fetched.versions:
        if mv.version in known or mv.status.upper() in _NOT_READY:
            continue  # a registration still pending is brought in by a later sync
        wanted = int(mv.version) if mv.version.isdigit() else 0
        number = wanted if wanted > 0 and wanted not in taken else max(taken, default=0) + 1
        taken.add(number)
        plan.versions.append(NewVersion(number=number, source=mv))
        plan.numbers[mv.version] = number


def _production(plan: ModelPlan, fetched: _Fetched, alias: str) -> None:
    """A new model's production version: the one `alias` points to, else the newest in the
    deprecated Production stage."""
    target = fetched.registered.aliases.get(alias)
    why: str | None = f"@{alias}"
    if target is None:
        staged = [v.version for v in fetched.versions if v.stage.lower() == "production"]
        target, why = (staged[-1], "stage Production") if staged else (None, None)
    if target is not None and target in plan.numbers:
        plan.production, plan.production_from = plan.numbers[target], why


def _moves(plan: ModelPlan, before: dict[str, str]) -> None:
    after = plan.aliases
    for alias in sorted(set(before) | set(after)):
        if before.get(alias) != after.get(alias):
            plan.moves.append(Move(alias, before.get(alias), after.get(alias)))


def plan_import(
    ctx: Context,
    tracking_uri: str,
    *,
    models: Sequence[str] = (),
    production_alias: str = DEFAULT_ALIAS,
    opener: Opener = _open,
) -> Report:
    """What `import` would change, reading MLflow and writing nothing. Raises InvalidInput
    (listing them) when registered models have no name here or would take a model that
    is not theirs; RegistryUnreachable; NotFound for a `models` name MLflow lacks."""
    uri = validate_tracking_uri(tracking_uri)
    production_alias = validate_alias(production_alias)
    names = [validate_registered_model(n) for n in models]
    registry = opener(uri)
    try:
        report = _plan_import(ctx, registry, uri, names, production_alias)
        _fill_runs(registry, report.plans)
    finally:
        registry.close()
    return report


def _plan_import(
    ctx: Context, registry: Registry, uri: str, names: list[str], production_alias: str
) -> Report:
    fetched = _fetch(registry, names or None)
    links = {
        ln.registered_model: ln for ln in ctx.store.rows(schema.MLFLOW_LINKS, tracking_uri=uri)
    }
    existing = set(ctx.store.model_names())
    plans: list[ModelPlan] = []
    refused: list[str] = []
    taken_by: dict[str, str] = {}
    for f in fetched:
        rm = f.registered
        link = links.get(rm.name)
        name = link.model if link is not None else local_name(rm.name)
        if name is None:
            refused.append(f"{rm.name!r} has no name here (no letter or digit to keep)")
            continue
        if name in taken_by:
            refused.append(f"{rm.name!r} and {taken_by[name]!r} would both be {name}")
            continue
        taken_by[name] = rm.name
        if link is None and name in existing:
            refused.append(f"{rm.name!r} would be {name}, a model here that is not linked to it")
            continue
        plan = ModelPlan(rm.name, name, new=link is None, aliases=dict(rm.aliases))
        if link is None:
            _plan_versions(plan, f, {}, set())
            _production(plan, f, production_alias)
            plan.stage = (
                Stage.MONITOR
                if plan.production is not None
                else (Stage.TEST if plan.versions else Stage.PLAN)
            )
            plan.description = plain_text(rm.description, MAX_DESCRIPTION)
            plan.tags = {plain_text(k, 250): plain_text(v, 5000) for k, v in rm.tags.items()}
        else:
            _plan_link(ctx, plan, link, f)
        plans.append(plan)
    if refused:
        raise InvalidInput(
            "cannot import: " + "; ".join(refused),
            cli="import the others with --model, or rename the registered models in MLflow",
        )
    return Report(uri, plans, dry_run=True)


def _plan_link(ctx: Context, plan: ModelPlan, link: MlflowLink, f: _Fetched) -> None:
    """A linked model's sync: new versions, alias moves, and whether MLflow's production
    alias agrees with production here."""
    known = _known_versions(ctx, link.model, link.registered_model)
    _plan_versions(plan, f, known, _taken_numbers(ctx, link.model))
    _moves(plan, link.aliases)
    if link.alias is not None:
        there = plan.aliases.get(link.alias)
        model = ctx.store.get_model(link.model)
        here = model.production_version
        mapped = plan.numbers.get(there) if there is not None else None
        if there is not None and mapped != here:
            shown = f"v{mapped}" if mapped is not None else f"MLflow version {there}"
            now = f"v{here}" if here is not None else "none"
            plan.drift = f"@{link.alias} points at {shown} in MLflow; production here is {now}"


# -- writing ----------------------------------------------------------------------------------
def _version_rows(plan: ModelPlan, ctx: Context, tx: Tx, at: datetime) -> int:
    """Insert the plan's versions and their events; returns how many events."""
    events = 0
    inputs_taken = {v.inputs for v in tx.rows(schema.VERSIONS).all(model=plan.name)}
    for nv in plan.versions:
        source = plain_text(nv.source.source, 2000) or None
        inputs = domain.inputs_key(nv.commit, source, nv.params)
        if inputs in inputs_taken:  # MLflow registered the same run's model twice
            inputs = domain.inputs_key(
                nv.commit, f"{source}#{plan.registered_model}/{nv.mlflow_version}", nv.params
            )
        inputs_taken.add(inputs)
        registered = _when(nv.source.created_ms)
        tx.rows(schema.VERSIONS).add(
            {
                "model": plan.name,
                "number": nv.number,
                "inputs": inputs,
                "commit_sha": nv.commit,
                "data_ref": source,
                "params": nv.params,
                "image": None,
                "image_id": None,
                "created_at": registered or at,
                "created_by": ctx.actor,
            }
        )
        author = plain_text(nv.author, 200) or None
        tx.rows(schema.MLFLOW_VERSIONS).add(
            {
                "model": plan.name,
                "number": nv.number,
                "registered_model": plan.registered_model,
                "mlflow_version": nv.mlflow_version,
                "run_id": nv.source.run_id,
                "author": author,
                "metrics": nv.metrics,
                "stage": nv.source.stage or None,
                "registered_at": registered,
            }
        )
        data: dict[str, Any] = {
            "version": nv.number,
            "registered_model": plan.registered_model,
            "mlflow_version": nv.mlflow_version,
        }
        if nv.source.run_id:
            data["run_id"] = nv.source.run_id
        if source:
            data["source"] = source
        if author:
            data["author"] = author
        if nv.commit:
            data["commit"] = nv.commit
        tx.events.append(ctx.event(MLFLOW_VERSION, plan.name, **data))
        events += 1
    return events


def _move_events(plan: ModelPlan, ctx: Context, tx: Tx) -> int:
    for move in plan.moves:
        data: dict[str, Any] = {
            "alias": move.alias,
            "registered_model": plan.registered_model,
            "from": move.before,
            "to": move.after,
        }
        if move.before is not None and move.before in plan.numbers:
            data["version_from"] = plan.numbers[move.before]
        if move.after is not None and move.after in plan.numbers:
            data["version_to"] = plan.numbers[move.after]
        tx.events.append(ctx.event(MLFLOW_ALIAS_MOVED, plan.name, **data))
    if plan.moves:
        tx.rows(schema.MLFLOW_LINKS).update({"aliases": plan.aliases}, model=plan.name)
    return len(plan.moves)


def _create(
    ctx: Context, tx: Tx, plan: ModelPlan, uri: str, owner: str, alias: str, head: int
) -> int:
    """A model that came from MLflow, its versions, and its link, with their events."""
    assert plan.stage is not None
    created = ctx.event(MODEL_CREATED, plan.name, stage=str(plan.stage), owner=owner)
    created.data["source"] = "mlflow"
    if plan.description:
        created.data["description"] = plan.description
    at = created.at
    candidate = max((v.number for v in plan.versions), default=None)
    tx.models.insert(
        Model(
            name=plan.name,
            stage=plan.stage,
            owner=owner,
            description=plan.description,
            created_at=at,
            created_by=ctx.actor,
            updated_at=at,
            updated_by=ctx.actor,
            version=candidate,
            production_version=plan.production,
        ),
        duplicate=f"a model named {plan.name!r} already exists",
    )
    tx.events.append(created)
    events = 1 + _version_rows(plan, ctx, tx, at)
    tx.rows(schema.MLFLOW_LINKS).add(
        {
            "model": plan.name,
            "tracking_uri": uri,
            "registered_model": plan.registered_model,
            "alias": alias,
            "aliases": plan.aliases,
            "tags": plan.tags,
            "created_at": at,
            "created_by": ctx.actor,
            "updated_at": at,
            "updated_by": ctx.actor,
            "last_event": head,
        },
        duplicate=f"{plan.registered_model!r} on {uri} is linked to another model already",
    )
    imported: dict[str, Any] = {
        "tracking_uri": uri,
        "registered_model": plan.registered_model,
        "versions": len(plan.versions),
        "production_version": plan.production,
        "alias": alias,
        "aliases": plan.aliases,
    }
    if plan.production_from:
        imported["production_from"] = plan.production_from
    if plan.tags:
        imported["tags"] = plan.tags
    tx.events.append(ctx.event(MLFLOW_IMPORTED, plan.name, **imported))
    if plan.production is not None:
        _start_monitoring(ctx, tx, plan, at)
    return events + 1


def _start_monitoring(ctx: Context, tx: Tx, plan: ModelPlan, at: datetime) -> None:
    """Production that came from MLflow is watched like one deployed here: unchecked for
    longer than its max age, it reads stale."""
    model = tx.models.get(name=plan.name)
    version = tx.rows(schema.VERSIONS).get(model=plan.name, number=plan.production)
    assert model is not None and version is not None
    max_age = loopcfg.config_of(model, version).monitor_max_age
    clock = {"model": plan.name, "stale_at": at + timedelta(seconds=max_age)}
    tx.rows(schema.MONITORING).upsert(clock, ["model"])


def _update(ctx: Context, tx: Tx, plan: ModelPlan) -> int:
    """A linked model's new versions (the newest the candidate) and alias moves. The model
    is held first, and what another sync brought in meanwhile is left out, so two syncs at
    once write each fact once."""
    tx.models.lock(plan.name)
    there = {m.mlflow_version for m in tx.rows(schema.MLFLOW_VERSIONS).all(model=plan.name)}
    plan.versions = [v for v in plan.versions if v.mlflow_version not in there]
    now = tx.rows(schema.MLFLOW_LINKS).get(model=plan.name)
    if now is not None:
        plan.moves = []
        _moves(plan, now.aliases)
    events = 0
    if plan.versions:
        events += _version_rows(plan, ctx, tx, ctx.clock())
        newest = max(v.number for v in plan.versions)
        current = tx.models.get(name=plan.name)
        assert current is not None
        if current.version is None or newest > current.version:
            marker = ctx.event(MLFLOW_VERSION, plan.name)  # stamps updated_at/by
            tx.models.revise_held(plan.name, {"version": newest}, marker)
    return events + _move_events(plan, ctx, tx)


@gate.writes("mlflow-import")
def import_registry(
    ctx: Context,
    tracking_uri: str,
    *,
    models: Sequence[str] = (),
    owner: str | None = None,
    production_alias: str = DEFAULT_ALIAS,
    opener: Opener = _open,
) -> Report:
    """Bring a registry's models in, in one transaction: new ones created (owned by `owner`,
    the actor by default) with their versions, production and link; linked ones synced."""
    owner_name = team.responsible(ctx, owner or ctx.actor, "owner")
    report = plan_import(
        ctx, tracking_uri, models=models, production_alias=production_alias, opener=opener
    )
    report.dry_run = False
    alias = validate_alias(production_alias)
    head = ctx.store.head()  # deployments before the import are not the link's to push
    with ctx.store.transaction() as tx:
        for plan in report.changed:
            if plan.new:
                report.events += _create(
                    ctx, tx, plan, report.tracking_uri, owner_name, alias, head
                )
            else:
                report.events += _update(ctx, tx, plan)
    return report


# -- sync -------------------------------------------------------------------------------------
def plan_sync(ctx: Context, name: str | None = None, *, opener: Opener = _open) -> list[Report]:
    """What `sync` would change for each linked model (or `name`), reading MLflow only."""
    links = _links(ctx, name)
    by_uri: dict[str, list[MlflowLink]] = defaultdict(list)
    for link in links:
        by_uri[link.tracking_uri].append(link)
    reports = []
    for uri, group in sorted(by_uri.items()):
        registry = opener(uri)
        try:
            try:
                fetched = _fetch(registry, [link.registered_model for link in group])
            except NotFound as exc:
                raise NotFound(f"{exc.reason} (on {uri})") from None
            found = {f.registered.name: f for f in fetched}
            plans = []
            for link in group:
                plan = ModelPlan(link.registered_model, link.model, new=False)
                f = found[link.registered_model]
                plan.aliases = dict(f.registered.aliases)
                _plan_link(ctx, plan, link, f)
                plans.append(plan)
            _fill_runs(registry, plans)
        finally:
            registry.close()
        reports.append(Report(uri, plans, dry_run=True))
    return reports


def _links(ctx: Context, name: str | None) -> list[MlflowLink]:
    if name is None:
        return ctx.store.rows(schema.MLFLOW_LINKS, order="model")
    name = domain.validate_model_name(name)
    link = ctx.store.row(schema.MLFLOW_LINKS, model=name)
    if link is None:
        ctx.store.get_model(name)  # NotFound first, for a name that is no model
        raise InvalidInput(
            f"{name} is not linked to MLflow",
            cli=f"link it with `mlops mlflow link {name} --tracking-uri URI`",
        )
    return [link]


@gate.writes("mlflow-sync", model="name")
def sync(ctx: Context, name: str | None = None, *, opener: Opener = _open) -> list[Report]:
    """Bring each linked model's new versions and alias moves in (one transaction for each
    tracking server), after pushing what the outbox holds."""
    pushed = push(ctx, retry_now=True, opener=opener)
    reports = plan_sync(ctx, name, opener=opener)
    for report in reports:
        report.dry_run = False
        with ctx.store.transaction() as tx:
            for plan in report.changed:
                report.events += _update(ctx, tx, plan)
    if reports:
        reports[0].pushes = pushed
    return reports


# -- links ------------------------------------------------------------------------------------
@gate.writes("mlflow-link", model="name")
def link(
    ctx: Context,
    name: str,
    tracking_uri: str,
    *,
    registered_model: str | None = None,
    alias: str = DEFAULT_ALIAS,
    opener: Opener = _open,
) -> MlflowLink:
    """Keep `name` in step with a registered model (the model's own name by default): each
    later deployment here sets `alias` on the version it deploys. MLflow must know the
    registered model. Relinking changes the registered model or the alias."""
    name = domain.validate_model_name(name)
    uri = validate_tracking_uri(tracking_uri)
    rm_name = validate_registered_model(registered_model or name)
    alias = validate_alias(alias)
    model = ctx.store.get_model(name)
    gate.check(ctx, model)
    registry = opener(uri)
    try:
        found = registry.registered_models([rm_name])
    finally:
        registry.close()
    if not found:
        raise NotFound(f"MLflow on {uri} has no registered model named {rm_name!r}")
    head = ctx.store.head()
    before = ctx.store.row(schema.MLFLOW_LINKS, model=name)
    event = ctx.event(MLFLOW_LINKED, name, tracking_uri=uri, registered_model=rm_name, alias=alias)
    row = {
        "model": name,
        "tracking_uri": uri,
        "registered_model": rm_name,
        "alias": alias,
        "aliases": dict(found[0].aliases),
        "tags": before.tags if before else {},
        "created_at": before.created_at if before else event.at,
        "created_by": before.created_by if before else ctx.actor,
        "updated_at": event.at,
        "updated_by": ctx.actor,
        "last_event": before.cursor if before else head,
    }
    if before is not None and (before.tracking_uri, before.registered_model, before.alias) == (
        uri,
        rm_name,
        alias,
    ):
        return before
    taken = f"{rm_name!r} on {uri} is linked to another model already"
    with ctx.store.transaction() as tx:
        if before is not None:
            tx.rows(schema.MLFLOW_LINKS).delete(model=name)
        tx.rows(schema.MLFLOW_LINKS).add(row, duplicate=taken)
        tx.events.append(event)
    stored = ctx.store.row(schema.MLFLOW_LINKS, model=name)
    assert stored is not None
    return stored


@gate.writes("mlflow-link", model="name")
def unlink(ctx: Context, name: str) -> MlflowLink:
    """Stop keeping `name` in step with MLflow; its versions keep what they came with."""
    name = domain.validate_model_name(name)
    gate.check(ctx, ctx.store.get_model(name))
    found = _links(ctx, name)[0]
    with ctx.store.transaction() as tx:
        tx.rows(schema.MLFLOW_LINKS).delete(model=name)
        tx.rows(schema.MLFLOW_PUSHES).update(
            {"status": PushStatus.SUPERSEDED, "last_error": "the model was unlinked"},
            model=name,
            status=PushStatus.PENDING,
        )
        tx.events.append(
            ctx.event(
                MLFLOW_UNLINKED,
                name,
                tracking_uri=found.tracking_uri,
                registered_model=found.registered_model,
            )
        )
    return found


# -- the outbox of alias pushes ----------------------------------------------------------------
def _mlflow_version(tx: Tx, link: MlflowLink, version: int) -> str | None:
    mapped = tx.rows(schema.MLFLOW_VERSIONS).get(model=link.model, number=version)
    if mapped is not None and mapped.registered_model == link.registered_model:
        return mapped.mlflow_version
    v = tx.rows(schema.VERSIONS).get(model=link.model, number=version)
    ref = models_uri(v.data_ref) if v is not None else None
    return ref[1] if ref is not None and ref[0] == link.registered_model else None


def enqueue(ctx: Context) -> int:
    """Queue a push for every successful deployment (or rollback) of a linked model since
    its cursor, superseding older pushes still waiting; returns how many were queued."""
    links = [x for x in ctx.store.rows(schema.MLFLOW_LINKS, order="model") if x.alias]
    if not links:
        return 0
    head = ctx.store.head()
    low = min(x.cursor for x in links)
    if low >= head:
        return 0
    by_model = {x.model: x for x in links}
    deployed = [
        e
        for e in ctx.store.replay_events(kinds=[DEPLOY_FINISHED], after=low, upto=head)
        if e.model in by_model
        and e.id > by_model[e.model].cursor
        and e.data.get("status") == "succeeded"
        and isinstance(e.data.get("version"), int)
    ]
    queued = 0
    with gate.bookkeeping(ctx), ctx.store.transaction() as tx:
        pushes = tx.rows(schema.MLFLOW_PUSHES)
        for e in deployed:
            ln = by_model[e.model or ""]
            assert ln.alias is not None
            version = int(e.data["version"])
            target = _mlflow_version(tx, ln, version)
            pushes.update(
                {"status": PushStatus.SUPERSEDED, "last_error": f"replaced by v{version}"},
                model=ln.model,
                status=PushStatus.PENDING,
            )
            why = (
                None
                if target
                else (
                    f"v{version} is no version of {ln.registered_model!r} in MLflow "
                    f"(neither imported from it nor built from models:/{ln.registered_model}/N)"
                )
            )
            pushes.upsert(
                {
                    "model": ln.model,
                    "event": e.id,
                    "version": version,
                    "tracking_uri": ln.tracking_uri,
                    "registered_model": ln.registered_model,
                    "mlflow_version": target,
                    "alias": ln.alias,
                    "status": PushStatus.PENDING if target else PushStatus.FAILED,
                    "attempts": 0,
                    "created_at": e.at,
                    "next_attempt_at": e.at if target else None,
                    "last_error": why,
                    "actor": e.actor,
                },
                ["model", "event"],
                ignore=True,
            )
            queued += 1
        links_rows = tx.rows(schema.MLFLOW_LINKS)
        for ln in links:
            if ln.cursor < head:
                links_rows.update({"last_event": head}, model=ln.model)
    return queued


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)))


def push(
    ctx: Context,
    *,
    retry_now: bool = False,
    timeout: float = 10.0,
    opener: Opener | None = None,
) -> list[AliasPush]:
    """Queue what is new, then set each due alias in MLflow; returns the pushes tried, as
    they ended. A push that MLflow did not take waits, doubling, up to an hour; one that
    cannot succeed (MLflow lost the version) fails for good. Never two for one model at
    once: only the newest deployment's push is waiting."""
    enqueue(ctx)
    now = ctx.clock()
    waiting = ctx.store.rows(schema.MLFLOW_PUSHES, status=PushStatus.PENDING, order="id")
    due = [p for p in waiting if retry_now or p.next_attempt_at is None or p.next_attempt_at <= now]
    tried: list[AliasPush] = []
    by_uri: dict[str, list[AliasPush]] = defaultdict(list)
    for p in due:
        by_uri[p.tracking_uri].append(p)
    for uri, group in by_uri.items():
        registry: Registry | None = None
        try:
            registry = (opener or (lambda u: _open(u, timeout)))(uri)
        except MlopsError as exc:
            tried += [_retry_later(ctx, p, exc.reason) for p in group]
            continue
        down: str | None = None  # once a server stops answering, the rest wait: no more waits
        try:
            for p in group:
                if down is not None:
                    tried.append(_retry_later(ctx, p, down))
                    continue
                pushed, down = _push_one(ctx, registry, p)
                tried.append(pushed)
        finally:
            registry.close()
    return tried


def _push_one(ctx: Context, registry: Registry, p: AliasPush) -> tuple[AliasPush, str | None]:
    """The push as it ended, and why the server is down if it is."""
    assert p.mlflow_version is not None
    try:
        registry.set_alias(p.registered_model, p.alias, p.mlflow_version)
    except (NotFound, InvalidInput) as exc:  # MLflow refused it: trying again changes nothing
        return _settle(ctx, p, {"status": PushStatus.FAILED, "last_error": exc.reason}), None
    except RegistryUnreachable as exc:
        return _retry_later(ctx, p, exc.reason), exc.reason
    except MlopsError as exc:
        return _retry_later(ctx, p, exc.reason), None
    return _landed(ctx, p), None


def _retry_later(ctx: Context, p: AliasPush, why: str) -> AliasPush:
    attempts = p.attempts + 1
    changes = {
        "attempts": attempts,
        "last_error": why[:500],
        "next_attempt_at": ctx.clock() + _backoff(attempts),
    }
    return _settle(ctx, p, changes)


def _settle(ctx: Context, p: AliasPush, changes: dict[str, Any]) -> AliasPush:
    with gate.bookkeeping(ctx), ctx.store.transaction() as tx:
        done = tx.rows(schema.MLFLOW_PUSHES).update(changes, id=p.id, status=PushStatus.PENDING)
    return done or p


def _landed(ctx: Context, p: AliasPush) -> AliasPush:
    """The push went out: record it as the deployer's, once (another process that pushed
    the same alias at the same moment finds it done and records nothing)."""
    as_deployer = Context(ctx.store, p.actor, ctx.clock)
    at = ctx.clock()
    with (
        gate.bookkeeping(as_deployer, records=[MLFLOW_ALIAS_SET]),
        ctx.store.transaction() as tx,
    ):
        done = tx.rows(schema.MLFLOW_PUSHES).update(
            {
                "status": PushStatus.DONE,
                "attempts": p.attempts + 1,
                "done_at": at,
                "last_error": None,
            },
            id=p.id,
            status=PushStatus.PENDING,
        )
        if done is None:
            return p
        ln = tx.rows(schema.MLFLOW_LINKS).get(model=p.model)
        if ln is not None and ln.registered_model == p.registered_model:
            aliases = {**ln.aliases, p.alias: p.mlflow_version}
            tx.rows(schema.MLFLOW_LINKS).update({"aliases": aliases}, model=p.model)
        data: dict[str, Any] = {
            "alias": p.alias,
            "registered_model": p.registered_model,
            "mlflow_version": p.mlflow_version,
            "version": p.version,
            "deployment_event": p.event,
        }
        if ctx.actor != p.actor:
            data["pushed_by"] = ctx.actor
        tx.events.append(as_deployer.event(MLFLOW_ALIAS_SET, p.model, **data))
    return done


def after_write(ctx: Context) -> None:
    """After a command that wrote: push the aliases its deployments moved, briefly; never
    raises (the outbox keeps what did not go out)."""
    try:
        if not any(x.alias for x in ctx.store.rows(schema.MLFLOW_LINKS)):
            return
        push(ctx, timeout=AFTER_WRITE_TIMEOUT)
    except Exception:
        return


# -- reading ----------------------------------------------------------------------------------
@dataclass
class LinkStatus:
    link: MlflowLink
    versions: int
    #: the newest push, and those waiting or failed
    last: AliasPush | None
    waiting: list[AliasPush]
    failed: list[AliasPush]


def status(ctx: Context) -> list[LinkStatus]:
    """Every link, with what its outbox holds (read only: nothing is queued or pushed)."""
    out = []
    for ln in ctx.store.rows(schema.MLFLOW_LINKS, order="model"):
        pushes = ctx.store.rows(schema.MLFLOW_PUSHES, model=ln.model, limit=50)
        out.append(
            LinkStatus(
                ln,
                len(ctx.store.rows(schema.MLFLOW_VERSIONS, model=ln.model)),
                pushes[0] if pushes else None,
                [p for p in pushes if p.status == PushStatus.PENDING],
                [p for p in pushes if p.status == PushStatus.FAILED][:5],
            )
        )
    return out


def describe(names: Iterable[int]) -> str:
    """v1-v3, v5 for a run of version numbers."""
    nums = sorted(set(names))
    parts: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(f"v{nums[i]}" if i == j else f"v{nums[i]}-v{nums[j]}")
        i = j + 1
    return ", ".join(parts)
