"""A second pair of eyes before production: approval rules, requests, approvals, rejections.

Rules live in the approval_rules table (a model's own rule wins over the team's `*` rule);
requests, approvals and rejections are events, so the history alone answers "who approved
v3 of churn before it went to production". `missing(ctx, model, version)` is the one
question the deploy service asks.

Who counts: anyone but the person who requested the approval, who is the model's owner or
backup, or a maintainer or admin of the team (people never seen count as maintainers while
the team's `open_join` setting is on, as everywhere else in the tool).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops_tui import domain
from mlops_tui.domain import (
    ALL_MODELS,
    APPROVAL_GRANTED,
    APPROVAL_REJECTED,
    APPROVAL_REQUESTED,
    APPROVAL_RULE,
    MAX_APPROVALS,
    Event,
    Model,
    Stage,
)
from mlops_tui.errors import InvalidInput, MlopsError
from mlops_tui.services import gate
from mlops_tui.services.context import Context
from mlops_tui.store import Change, schema
from mlops_tui.store.schema import APPROVAL_RULES

KINDS = (APPROVAL_REQUESTED, APPROVAL_GRANTED, APPROVAL_REJECTED)


@dataclass
class Approval:
    """Where one version of one model stands."""

    model: str
    version: int
    required: int
    requested_by: str | None = None
    requested_at: datetime | None = None
    approved_by: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (who, why)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return not self.rejected and len(self.approved_by) >= self.required


# -- rules -------------------------------------------------------------------------------
@gate.writes("approval-rule", model="name")
def require(ctx: Context, name: str | None, count: int = 1) -> Event:
    """Require `count` approvals before production for `name`, or for every model (None).
    A count of 0 removes the rule. An admin's act, and never one of the people the rule
    binds: a rule its own subject could lift would be no second pair of eyes."""
    if not 0 <= count <= MAX_APPROVALS:
        raise InvalidInput(f"the number of approvals must be from 0 to {MAX_APPROVALS}")
    model = ctx.store.get_model(domain.validate_model_name(name)) if name is not None else None
    scope = name or ALL_MODELS
    rules_ = ctx.store.approval_rules()
    if count == 0 and scope not in rules_:
        raise InvalidInput(f"{name or 'the team'} has no approval rule to remove")
    after = dict(rules_)
    if count:
        after[scope] = count
    else:
        del after[scope]
    lowered = _lowered(ctx, rules_, after, name)
    if lowered and (bound := _binds(ctx, model, lowered)):
        raise gate.deny(ctx, "approval-rule", model, bound)
    data: dict[str, Any] = {"scope": "all" if name is None else "model", "required": count}
    event = ctx.event(APPROVAL_RULE, name, **data)
    with ctx.store.transaction() as tx:
        rows = tx.rows(APPROVAL_RULES)
        rows.delete(scope=scope)
        if count > 0:
            rows.add(
                {"scope": scope, "required": count, "updated_at": event.at, "updated_by": ctx.actor}
            )
        return tx.events.append(event)


def rules(ctx: Context) -> dict[str, int]:
    return ctx.store.approval_rules()


def required(ctx: Context, name: str, rules_: dict[str, int] | None = None) -> int:
    rules_ = ctx.store.approval_rules() if rules_ is None else rules_
    return rules_.get(name, rules_.get(ALL_MODELS, 0))


def _lowered(
    ctx: Context, before: dict[str, int], after: dict[str, int], name: str | None
) -> set[str]:
    """The models whose required approvals a rule change lowers (raising is anyone's)."""
    names = [name] if name is not None else [m.name for m in ctx.store.list_models()]
    return {n for n in names if required(ctx, n, after) < required(ctx, n, before)}


def _binds(ctx: Context, model: Model | None, lowered: set[str]) -> str | None:
    """How a rule that lowers the bar for `lowered` binds the actor, or None.

    A model's rule binds its owner and backup, and whoever asked for approval of one of
    its versions that is still waiting; the team's rule binds the same people for every
    model whose bar it lowers that has a version waiting. A rule its own subject could
    lower would be no second pair of eyes.
    """
    if model is not None and ctx.actor in (model.owner, model.backup):
        return f"{ctx.actor} is responsible for {model.name}, whom the rule binds"
    models = {m.name: m for m in ctx.store.list_models() if m.name in lowered}
    for a in all_states(ctx):
        waiting = models.get(a.model)
        if waiting is None or a.requested_by is None or a.done or a.rejected:
            continue
        if waiting.production_version == a.version:
            continue
        if ctx.actor in (a.requested_by, waiting.owner, waiting.backup):
            return (
                f"{ctx.actor} is waiting for approval of {a.model} v{a.version}, "
                "which the rule binds"
            )
    return None


# -- state from the history ----------------------------------------------------------------
def _fold(approval: Approval, e: Event) -> None:
    if e.kind == APPROVAL_REQUESTED:
        if approval.requested_by is None:
            approval.requested_by, approval.requested_at = e.actor, e.at
        return
    # A person's latest decision counts: a rejection can be withdrawn by approving.
    approval.approved_by = [a for a in approval.approved_by if a != e.actor]
    approval.rejected = [r for r in approval.rejected if r[0] != e.actor]
    if e.kind == APPROVAL_GRANTED:
        approval.approved_by.append(e.actor)
    else:
        approval.rejected.append((e.actor, e.data.get("note") or ""))
    if e.data.get("note"):
        approval.notes[e.actor] = e.data["note"]


def _finish(approval: Approval) -> Approval:
    # The requester's own approval never counts (it may predate the request).
    approval.approved_by = [a for a in approval.approved_by if a != approval.requested_by]
    return approval


def state(ctx: Context, name: str, version: int) -> Approval:
    approval = Approval(name, version, required(ctx, name))
    for e in ctx.store.replay_events(model=name, kinds=KINDS):
        if e.data.get("version") == version:
            _fold(approval, e)
    return _finish(approval)


def all_states(ctx: Context) -> list[Approval]:
    """Every version that has an approval event, oldest request first."""
    rules_ = ctx.store.approval_rules()
    found: dict[tuple[str, int], Approval] = {}
    for e in ctx.store.replay_events(kinds=KINDS):
        version = e.data.get("version")
        if e.model is None or not isinstance(version, int):
            continue
        key = (e.model, version)
        if key not in found:
            found[key] = Approval(e.model, version, required(ctx, e.model, rules_))
        _fold(found[key], e)
    return [_finish(a) for a in found.values()]


def _waits(a: Approval, production_version: int | None) -> bool:
    """A request still waiting: asked for, needing approvals, neither done nor rejected,
    and of a version not in production already."""
    if a.requested_by is None or a.done or a.rejected or a.required == 0:
        return False
    return production_version != a.version


def waiting(ctx: Context, production: dict[str, int | None]) -> dict[str, int]:
    """How many versions of each model wait for approval, given each model's production
    version: `pending` for a scrape of every model, which reads no Model records and no
    history at all while no rule asks for approvals."""
    if not ctx.store.approval_rules():
        return {}
    counts: dict[str, int] = {}
    for a in all_states(ctx):
        if a.model in production and _waits(a, production[a.model]):
            counts[a.model] = counts.get(a.model, 0) + 1
    return counts


def pending(ctx: Context, *, for_user: str | None = None) -> list[Approval]:
    """Requests still waiting for approvals (and not rejected), of versions not yet in
    production; with `for_user`, only those that person may approve."""
    out = []
    models = {m.name: m for m in ctx.store.list_models()}
    for a in all_states(ctx):
        model = models.get(a.model)
        if model is None or not _waits(a, model.production_version):
            continue
        if for_user is not None and (
            for_user == a.requested_by
            or for_user in a.approved_by
            or _why_unqualified(ctx, model, for_user)
        ):
            continue
        out.append(a)
    return out


# -- acting ------------------------------------------------------------------------------
def _why_unqualified(ctx: Context, model: Model, actor: str) -> str | None:
    """Why `actor` may not decide on `model`'s versions (the gate's rule), or None."""
    if actor == ctx.actor:
        return gate.why_not(ctx, "decide", model)
    return gate.why_not(Context(ctx.store, actor, ctx.clock), "decide", model)


def _version(ctx: Context, name: str, version: int) -> Model:
    name = domain.validate_model_name(name)
    model = ctx.store.get_model(name)
    if ctx.store.row(schema.VERSIONS, model=name, number=version) is None:
        raise InvalidInput(f"{name} has no version {version}", cli=f"see `mlops model show {name}`")
    return model


@gate.writes("request", model="name")
def request(ctx: Context, name: str, version: int) -> Event | None:
    """Ask for approval of `version` unless it was already asked for (or needs none): what
    moving a version to Deploy, or deploying it, does first."""
    if required(ctx, name) == 0:
        return None
    current = state(ctx, name, version)
    if current.requested_by is not None:
        return None
    return ctx.record(APPROVAL_REQUESTED, name, version=version, required=current.required)


def after_move(ctx: Context, change: Change) -> None:
    """A version that enters stage deploy and needs approval gets its request at once, so
    the approvers see it in their inbox before anyone tries to deploy."""
    model = change.model
    if model.stage == Stage.DEPLOY and model.version is not None:
        # The move stands whatever happens here; a deploy attempt makes the request then.
        with contextlib.suppress(MlopsError):
            request(ctx, model.name, model.version)


def _decide(ctx: Context, kind: str, name: str, version: int, note: str | None) -> Event:
    model = _version(ctx, name, version)
    note = domain.clean_text(note, "note", domain.MAX_NOTE)
    current = state(ctx, name, version)
    verb = "approve" if kind == APPROVAL_GRANTED else "reject"
    if current.requested_by == ctx.actor:
        raise gate.deny(
            ctx,
            "decide",
            model,
            f"{ctx.actor} requested the approval of {name} v{version}: someone else must {verb} it",
        )
    gate.check(ctx, model)
    data: dict[str, Any] = {"version": version}
    if note:
        data["note"] = note
    return ctx.record(kind, name, **data)


@gate.writes("decide", model="name")
def approve(ctx: Context, name: str, version: int, note: str | None = None) -> Event:
    return _decide(ctx, APPROVAL_GRANTED, name, version, note)


@gate.writes("decide", model="name")
def reject(ctx: Context, name: str, version: int, note: str | None) -> Event:
    if not (note or "").strip():
        raise InvalidInput("a rejection needs a note saying why", cli="add --note TEXT")
    return _decide(ctx, APPROVAL_REJECTED, name, version, note)


def missing(ctx: Context, model: Model | str, version: int) -> str | None:
    """What `version` still lacks before production, or None when it may go (reads only:
    the deploy service makes the request first)."""
    name = model if isinstance(model, str) else model.name
    if required(ctx, name) == 0:
        return None
    a = state(ctx, name, version)
    if a.rejected:
        who = ", ".join(f"{w} ({why})" if why else w for w, why in a.rejected)
        return f"{name} v{version} was rejected by {who}"
    if a.done:
        return None
    has = f"has {len(a.approved_by)}" + (f": {', '.join(a.approved_by)}" if a.approved_by else "")
    return (
        f"{name} v{version} needs {a.required} approval{'s' if a.required > 1 else ''} before "
        f"production ({has}); {_who_approves(a)} must approve it "
        "(the owner, the backup or a maintainer)"
    )


def approve_hint(name: str, version: int, why: str) -> dict[str, str]:
    """How each front end approves, for an error that says an approval is missing (none
    for a rejection: a reviewer who said no is not talked round by a command)."""
    if why.startswith(f"{name} v{version} was rejected"):
        return {}
    return {
        "cli": f"`mlops approve {name} --version {version}`",
        "tui": "approve it in the inbox (4)",
    }


def _who_approves(a: Approval) -> str:
    if a.requested_by is None:
        return "someone"
    return f"someone other than {a.requested_by}, who requested it,"
