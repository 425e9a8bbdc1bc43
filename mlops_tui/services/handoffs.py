"""Handing models over: a tracked request with a checklist that the receiver works through.

Ownership changes only when the receiver accepts, in the same transaction as its event and
only if the model is still as the handoff found it (same owner, same revision). A person
leaving hands everything over in one go (`request_all`), and nothing is lost when some
handoffs are accepted and others are still open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_tui import domain
from mlops_tui.domain import (
    HANDOFF_CANCELLED,
    HANDOFF_DECLINED,
    HANDOFF_REQUESTED,
    HANDOFF_TICKED,
    ROLE_SET,
    ChecklistItem,
    Handoff,
    HandoffStatus,
    Model,
    NewEvent,
    Role,
    UserRole,
)
from mlops_tui.errors import AlreadyExists, Conflict, InvalidInput, MlopsError, NotFound
from mlops_tui.services import gate, team
from mlops_tui.services.context import Context
from mlops_tui.store import schema
from mlops_tui.store.schema import HANDOFFS


@dataclass(frozen=True, slots=True)
class Outcome:
    """One handoff of a bulk accept: the result, or why it was refused."""

    handoff: Handoff
    model: Model | None = None
    error: MlopsError | None = None


def checklist(ctx: Context) -> list[str]:
    return list(team.get_setting(ctx, "handoff_checklist"))


@gate.writes("handoff", model="name")
def request(ctx: Context, name: str, *, to: str, note: str | None = None) -> Handoff:
    """Offer `name` to `to`; the owner stays until they accept."""
    (handoff,) = _request(ctx, [ctx.store.get_model(domain.validate_model_name(name))], to, note)
    return handoff


@gate.writes("handoff")
def request_all(ctx: Context, *, from_user: str, to: str, note: str | None = None) -> list[Handoff]:
    """Offer every model `from_user` owns to `to` (someone is leaving), all or none."""
    from_user = domain.validate_user(from_user)
    models = [
        m
        for m in ctx.store.list_models(owner=from_user)
        if not ctx.store.rows(
            schema.HANDOFFS, model=m.name, status=HandoffStatus.PENDING, order="id"
        )
    ]
    if not models:
        raise NotFound(f"{from_user} owns no model without a pending handoff")
    return _request(ctx, models, to, note)


def _request(ctx: Context, models: list[Model], to: str, note: str | None) -> list[Handoff]:
    to = team.responsible(ctx, to, "receiver")
    note = domain.clean_text(note, "note", domain.MAX_NOTE)
    items = checklist(ctx)
    requests = []
    for model in models:
        if model.owner == to:
            raise InvalidInput(f"{to} already owns {model.name}")
        gate.check(ctx, model)
        event = ctx.event(HANDOFF_REQUESTED, model.name, to=to)
        event.data["from"] = model.owner
        if note:
            event.data["note"] = note
        requests.append((model, event))
    out = []
    with ctx.store.transaction() as tx:
        # Two people may hand a model over at the same moment: its row lock makes the second
        # wait for the first to commit and then find its handoff below, instead of both
        # passing the check and one tripping the one-pending index. All locks are taken
        # before the first event, in name order, so bulk requests never deadlock with each
        # other or with a writer waiting for the audit chain.
        held = {name: tx.models.lock(name) for name in sorted({m.name for m, _ in requests})}
        handoffs = tx.rows(HANDOFFS)
        for model, event in requests:
            if held[model.name].owner != model.owner:
                raise Conflict(
                    f"{model.name} is now owned by {held[model.name].owner}, not {model.owner}: "
                    "nothing was written, reload and try again"
                )
            if (
                waiting := handoffs.get(model=model.name, status=HandoffStatus.PENDING)
            ) is not None:
                raise AlreadyExists(
                    f"{model.name} already has a pending handoff #{waiting.id} to "
                    f"{waiting.to_user}: cancel it first",
                    cli=f"`mlops handoff cancel {waiting.id}`",
                )
            handoff = handoffs.insert(
                {
                    "model": model.name,
                    "from_user": model.owner,
                    "to_user": to,
                    "status": HandoffStatus.PENDING,
                    "checklist": tuple(ChecklistItem(i) for i in items),
                    "note": note,
                    "created_at": event.at,
                    "created_by": ctx.actor,
                    "updated_at": event.at,
                    "updated_by": ctx.actor,
                }
            )
            tx.events.append(event.add(handoff=handoff.id))
            out.append(handoff)
    return out


def _update(
    ctx: Context,
    handoff: Handoff,
    event: NewEvent,
    *,
    status: HandoffStatus = HandoffStatus.PENDING,
    checklist: tuple[ChecklistItem, ...] | None = None,
    reply: str | None = None,
    model_changes: Mapping[str, Any] | None = None,
    revision: int | None = None,
) -> tuple[Handoff, Model | None]:
    """Tick items, or close the handoff, if it is still pending as read; on accept, change
    the model too (if still at `revision`), with `event`. Raises Conflict when either
    changed meanwhile."""
    changes: dict[str, Any] = {
        "status": status,
        "checklist": handoff.checklist if checklist is None else checklist,
        "updated_at": event.at,
        "updated_by": event.actor,
    }
    if reply is not None:
        changes["reply"] = reply
    with ctx.store.transaction() as tx:
        handoffs = tx.rows(HANDOFFS)
        as_read = {"status": HandoffStatus.PENDING, "checklist": handoff.checklist}
        updated = handoffs.update(changes, id=handoff.id, **as_read)
        if updated is None:
            current = handoffs.get(id=handoff.id)
            if current is None:
                raise NotFound(f"no handoff #{handoff.id}")
            raise Conflict(
                f"handoff #{handoff.id} changed since you read it (it is now "
                f"{current.status}, by {current.updated_by}): nothing was written"
            )
        model = None
        if model_changes:
            model = tx.models.revise(handoff.model, model_changes, event, revision=revision)
            if model is None:
                raise Conflict(
                    f"{handoff.model} changed since you read it: nothing was written, "
                    "reload and try again"
                )
        tx.events.append(event)
    return updated, model


def get(ctx: Context, handoff_id: int) -> Handoff:
    found = ctx.store.row(schema.HANDOFFS, id=int(handoff_id))
    if found is None:
        raise NotFound(f"no handoff #{handoff_id}", cli="see `mlops handoff list`")
    return found


def pending(ctx: Context, *, to: str | None = None, model: str | None = None) -> list[Handoff]:
    return ctx.store.rows(
        schema.HANDOFFS, status=HandoffStatus.PENDING, to_user=to, model=model, order="id"
    )


def listing(ctx: Context, *, mine: bool = False, everything: bool = False) -> list[Handoff]:
    """Pending handoffs (all of them, or those to or from me); `everything` adds closed ones."""
    status = None if everything else HandoffStatus.PENDING
    if not mine:
        return ctx.store.rows(schema.HANDOFFS, status=status, order="id")
    to_me = ctx.store.rows(schema.HANDOFFS, status=status, to_user=ctx.actor)
    from_me = ctx.store.rows(schema.HANDOFFS, status=status, from_user=ctx.actor)
    return sorted({h.id: h for h in [*to_me, *from_me]}.values(), key=lambda h: h.id)


def _pending(ctx: Context, handoff_id: int) -> Handoff:
    handoff = get(ctx, handoff_id)
    if handoff.status != HandoffStatus.PENDING:
        raise InvalidInput(f"handoff #{handoff.id} is already {handoff.status}")
    return handoff


def _only_receiver(ctx: Context, handoff: Handoff, what: str) -> Model:
    model = ctx.store.get_model(handoff.model)
    if ctx.actor != handoff.to_user:
        raise gate.deny(
            ctx, "reply", model, f"only {handoff.to_user} can {what} handoff #{handoff.id}"
        )
    gate.check(ctx, model)
    return model


@gate.writes("reply")
def tick(ctx: Context, handoff_id: int, items: Iterable[str], *, done: bool = True) -> Handoff:
    """Tick (or untick) checklist items; only the receiver does."""
    handoff = _pending(ctx, handoff_id)
    model = _only_receiver(ctx, handoff, "tick items of")
    names = list(items)
    known = [c.item for c in handoff.checklist]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(
            f"handoff #{handoff.id} has no item {unknown[0]!r} (it has: {', '.join(known)})"
        )
    new = tuple(
        ChecklistItem(c.item, done if c.item in names else c.done) for c in handoff.checklist
    )
    event = ctx.event(HANDOFF_TICKED, model.name, handoff=handoff.id, items=names, done=done)
    updated, _ = _update(ctx, handoff, event, checklist=new)
    return updated


@gate.writes("reply")
def accept(ctx: Context, handoff_id: int, *, ack_all: bool = False) -> tuple[Handoff, Model]:
    """The receiver takes the model over. Refused, naming them, while items are unticked."""
    handoff = _pending(ctx, handoff_id)
    model = _only_receiver(ctx, handoff, "accept")
    items = handoff.checklist
    if ack_all:
        items = tuple(ChecklistItem(c.item, True) for c in items)
    unticked = [c.item for c in items if not c.done]
    if unticked:
        raise InvalidInput(
            f"cannot accept handoff #{handoff.id} of {handoff.model}: not ticked: "
            f"{', '.join(unticked)}",
            title="Checklist not done",
            cli="tick them in the inbox, or add --ack-all",
            tui="tick them first: space ticks the highlighted item",
        )
    if model.owner != handoff.from_user:
        raise Conflict(
            f"{model.name} is now owned by {model.owner} (the handoff was from "
            f"{handoff.from_user}): cancel it and hand over again"
        )
    changes: dict[str, object] = {"owner": handoff.to_user}
    data: dict[str, object] = {
        "role": str(Role.OWNER),
        "before": handoff.from_user,
        "after": handoff.to_user,
        "handoff": handoff.id,
    }
    if model.backup == handoff.to_user:
        changes["backup"] = None
        data["backup_cleared"] = True
    if ack_all and handoff.unticked:
        data["acknowledged"] = handoff.unticked
    updated, new_model = _update(
        ctx,
        handoff,
        ctx.event(ROLE_SET, model.name, **data),
        status=HandoffStatus.ACCEPTED,
        checklist=items,
        model_changes=changes,
        revision=model.revision,
    )
    if new_model is None:  # the store returns the model whenever it changes one
        raise AssertionError(f"handoff #{handoff.id} was accepted without changing {model.name}")
    return updated, new_model


@gate.writes("reply")
def accept_all(ctx: Context, *, ack_all: bool = False) -> list[Outcome]:
    """Accept every handoff waiting for me; each on its own, so one refusal keeps the rest."""
    out = []
    for handoff in pending(ctx, to=ctx.actor):
        try:
            done, model = accept(ctx, handoff.id, ack_all=ack_all)
        except MlopsError as exc:
            out.append(Outcome(handoff, error=exc))
        else:
            out.append(Outcome(done, model))
    return out


@gate.writes("reply")
def decline(ctx: Context, handoff_id: int, *, note: str) -> Handoff:
    note = domain.clean_text(note, "note", domain.MAX_NOTE) or ""
    if not note:
        raise InvalidInput("declining needs a note saying why", cli="add --note TEXT")
    handoff = _pending(ctx, handoff_id)
    model = _only_receiver(ctx, handoff, "decline")
    event = ctx.event(HANDOFF_DECLINED, model.name, handoff=handoff.id, note=note)
    updated, _ = _update(ctx, handoff, event, status=HandoffStatus.DECLINED, reply=note)
    return updated


@gate.writes("cancel")
def cancel(ctx: Context, handoff_id: int) -> Handoff:
    """The sender (who asked, or whose model it is) or an admin takes the offer back."""
    handoff = _pending(ctx, handoff_id)
    model = ctx.store.get_model(handoff.model)
    user = ctx.store.get_user(ctx.actor)
    is_admin = user is not None and user.active and user.role == UserRole.ADMIN
    if ctx.actor not in (handoff.created_by, handoff.from_user) and not is_admin:
        raise gate.deny(
            ctx,
            "cancel",
            model,
            f"only {handoff.created_by} (who asked) or an admin can cancel handoff #{handoff.id}",
        )
    gate.check(ctx, model)
    event = ctx.event(HANDOFF_CANCELLED, model.name, handoff=handoff.id)
    updated, _ = _update(ctx, handoff, event, status=HandoffStatus.CANCELLED)
    return updated
