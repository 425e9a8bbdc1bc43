"""Creating models, moving them through the loop, and naming who is responsible for them."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mlops_tui import domain
from mlops_tui.domain import (
    MAX_DESCRIPTION,
    MODEL_CREATED,
    MODEL_EDITED,
    MODEL_MOVED,
    ROLE_SET,
    Model,
    MoveKind,
    NewEvent,
    Role,
    Stage,
)
from mlops_tui.errors import Conflict, InvalidInput, MoveRefused
from mlops_tui.services import gate, team
from mlops_tui.services.context import Context
from mlops_tui.store import Change, schema


def _repo(value: str | None) -> str | None:
    """Keep remote URLs as given; make local paths absolute so they work from any folder."""
    value = domain.validate_repo(value)
    if value is None or "://" in value or value.startswith("git@"):
        return value
    return os.path.abspath(os.path.expanduser(value))


@gate.writes("create")
def add_model(
    ctx: Context,
    name: str,
    *,
    owner: str,
    repo: str | None = None,
    description: str | None = None,
    tags: Iterable[str] = (),
    stage: Stage = Stage.PLAN,
) -> Change:
    name = domain.validate_model_name(name)
    owner = team.responsible(ctx, owner, "owner")
    event = ctx.event(MODEL_CREATED, name, stage=str(stage), owner=owner)
    model = Model(
        name=name,
        stage=stage,
        owner=owner,
        description=domain.clean_text(description, "description", MAX_DESCRIPTION) or "",
        repo=_repo(repo),
        tags=domain.validate_tags(list(tags)),
        created_at=event.at,
        created_by=ctx.actor,
        updated_at=event.at,
        updated_by=ctx.actor,
    )
    if model.repo:
        event.data["repo"] = model.repo
    if model.description:
        event.data["description"] = model.description
    if model.tags:
        event.data["tags"] = model.tags
    with ctx.store.transaction() as tx:
        stored = tx.models.insert(model, duplicate=f"a model named {name!r} already exists")
        return Change(stored, tx.events.append(event))


_RETRIES = 8


def revise(
    ctx: Context, name: str, revision: int, changes: Mapping[str, Any], event: NewEvent
) -> Change:
    """Change a model as read at `revision`, with its event. Raises Conflict when someone
    changed it since (or NotFound when it is gone)."""
    with ctx.store.transaction() as tx:
        stored = tx.models.revise(name, changes, event, revision=revision)
        if stored is not None:
            return Change(stored, tx.events.append(event))
    raise Conflict.stale(ctx.store.get_model(name), revision)


def _retry_unless_pinned(action: Callable[[], Change], expected_revision: int | None) -> Change:
    """Run `action`; when it lost a race and the caller did not pin a revision, run it again.

    Each attempt re-reads the model and re-checks the rules, so a retry never overwrites a
    teammate's change: it judges the move against the state that change left. A caller that
    showed the user a revision (the TUI) pins it and gets the Conflict instead.
    """
    for attempt in range(_RETRIES):
        try:
            return action()
        except Conflict:
            if expected_revision is not None or attempt == _RETRIES - 1:
                raise
            # Jittered backoff, so writers racing for one model stop colliding in step.
            time.sleep(random.uniform(0, 0.004 * 2**attempt))
    raise AssertionError("unreachable")


@gate.writes("move", model="name")
def move(
    ctx: Context,
    name: str,
    target: Stage | str,
    *,
    note: str | None = None,
    force: bool = False,
    expected_revision: int | None = None,
) -> Change:
    """Move a model to `target` if the loop's rules allow it.

    `expected_revision` is the revision the caller showed the user; when someone changed
    the model since, the move is refused as a Conflict instead of acting on stale state.
    """
    name = domain.validate_model_name(name)
    stage = target if isinstance(target, Stage) else domain.parse_stage(target)
    note = domain.clean_text(note, "note", domain.MAX_NOTE)
    change = _retry_unless_pinned(
        lambda: _move_once(ctx, name, stage, note, force, expected_revision), expected_revision
    )
    if stage == Stage.DEPLOY:
        from mlops_tui.services import approvals  # ask for approval on arrival

        approvals.after_move(ctx, change)
    return change


def _move_once(
    ctx: Context,
    name: str,
    stage: Stage,
    note: str | None,
    force: bool,
    expected_revision: int | None,
) -> Change:
    model = ctx.store.get_model(name)
    if expected_revision is not None and model.revision != expected_revision:
        raise Conflict.stale(model, expected_revision)
    kind = domain.classify_move(model.stage, stage, note, force)
    missing = None
    gate_name = {Stage.TEST: "build", Stage.DEPLOY: "test", Stage.MONITOR: "deploy"}.get(stage)
    if model.stage == Stage.BUILD and stage == Stage.TEST:
        latest = ctx.store.rows(schema.BUILDS, model=name, limit=1)
        missing = domain.build_gate(model.version, latest[0] if latest else None)
    elif model.stage == Stage.TEST and stage == Stage.DEPLOY:
        runs = (
            ctx.store.rows(schema.TEST_RUNS, model=name, version=model.version, limit=1)
            if model.version
            else []
        )
        missing = domain.test_gate(model.version, runs[0] if runs else None)
    elif model.stage == Stage.DEPLOY and stage == Stage.MONITOR:
        done = ctx.store.rows(
            schema.DEPLOYMENTS,
            model=name,
            status=domain.RunStatus.SUCCEEDED,
            version=model.version,
            limit=1,
        )
        missing = domain.deploy_gate(model.version, done[0] if done else None)
    if missing:
        if not force:
            step = str(model.stage)  # the stage whose work produces the missing evidence
            raise MoveRefused(
                f"{name} cannot go to {stage}: {missing}",
                cli=f"run `mlops {step} {name}`, or `mlops record {step}` from CI; "
                "or override the gate with --force --note TEXT",
                tui=f"{step} it from its detail ({step[0]}), or force the move and say why",
            )
        if not note:
            raise MoveRefused(
                f"overriding the {gate_name} gate ({missing}) needs a note saying why",
                cli="add --note TEXT",
            )
        kind = MoveKind.FORCED
    gate.check(ctx, model, "force" if kind == MoveKind.FORCED else "move")
    iteration = model.iteration + (1 if kind == MoveKind.ITERATION else 0)
    data: dict[str, object] = {"from": str(model.stage), "to": str(stage), "move": str(kind)}
    if note:
        data["note"] = note
    if kind == MoveKind.FORCED:
        data["forced"] = True
    if missing:
        data["gate"] = missing
    if model.version is not None:
        data["version"] = model.version
    if kind == MoveKind.ITERATION:
        data["iteration"] = iteration
    changes = {"stage": stage, "iteration": iteration}
    return revise(ctx, name, model.revision, changes, ctx.event(MODEL_MOVED, name, **data))


@gate.writes("edit", model="name")
def edit_model(
    ctx: Context,
    name: str,
    *,
    repo: str | None = None,
    description: str | None = None,
    tags: Iterable[str] | None = None,
    expected_revision: int | None = None,
) -> Change:
    """Change a model's repository, description or tags: the facts about it that are not
    part of the loop. None keeps a value; an empty string clears repo or description.
    """
    name = domain.validate_model_name(name)
    changes: dict[str, object] = {}
    if repo is not None:
        # "" clears it; anything else, blank-looking control characters included, is checked.
        changes["repo"] = _repo(repo) if repo else None
    if description is not None:
        changes["description"] = (
            domain.clean_text(description, "description", MAX_DESCRIPTION) or ""
        )
    if tags is not None:
        changes["tags"] = domain.validate_tags(list(tags))
    if not changes:
        raise InvalidInput("nothing to change", cli="give --repo, --description or --tag")

    def once() -> Change:
        model = ctx.store.get_model(name)
        if expected_revision is not None and model.revision != expected_revision:
            raise Conflict.stale(model, expected_revision)
        gate.check(ctx, model)
        before = {k: getattr(model, k) for k in changes}
        if before == changes:
            raise InvalidInput(f"{name} already has those values")
        event = ctx.event(
            MODEL_EDITED, name, before=before, after=dict(changes), fields=sorted(changes)
        )
        return revise(ctx, name, model.revision, changes, event)

    return _retry_unless_pinned(once, expected_revision)


@gate.writes("roles", model="name")
def set_role(
    ctx: Context,
    name: str,
    user: str,
    *,
    role: Role | str = Role.OWNER,
    expected_revision: int | None = None,
) -> Change:
    name = domain.validate_model_name(name)
    role = role if isinstance(role, Role) else domain.parse_role(role)
    user = domain.validate_user(user)
    return _retry_unless_pinned(
        lambda: _set_role_once(ctx, name, user, role, expected_revision), expected_revision
    )


def _set_role_once(
    ctx: Context, name: str, user: str, role: Role, expected_revision: int | None
) -> Change:
    model = ctx.store.get_model(name)
    if expected_revision is not None and model.revision != expected_revision:
        raise Conflict.stale(model, expected_revision)
    before = model.holder(role)
    if before == user:
        raise InvalidInput(f"{user} is already the {role} of {name}")
    others = {r: model.holder(r) for r in Role if r != role}
    if role == Role.OWNER and others[Role.BACKUP] == user:
        raise MoveRefused(f"{user} is the backup of {name}: name another backup first")
    if role == Role.BACKUP and model.owner == user:
        raise InvalidInput(f"{user} owns {name}; the backup must be someone else")
    gate.check(ctx, model)
    team.responsible(ctx, user, "person on call" if role == Role.ONCALL else str(role))
    event = ctx.event(ROLE_SET, name, role=str(role), before=before, after=user)
    return revise(ctx, name, model.revision, {str(role): user}, event)
