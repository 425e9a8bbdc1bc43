"""The one gate every write passes: who may do what, decided before anything else.

Each write use case declares its action with `@writes(action)`. Before the use case looks at
anything, the gate admits the actor: a viewer, a deactivated person, or someone the tool has
never seen while the team's `open_join` is off is refused, and so is anyone below the
action's rule when the rule does not depend on a model. Rules that do ("the model's owner
or backup, or a maintainer or admin") are finished by `check(ctx, model)` once the use case
has read the model; until then the store refuses the grant's writes. Every refusal is
recorded in the history as `permission.denied` and raises PermissionDenied (exit 7).

The store is the other half: it refuses any write made with no grant in force, so a new use
case that forgets the gate fails the first time it runs. `RULES` is the one table of who
may do what; the README's "Who may do what" is printed from it and the permission-matrix
test runs every write command against it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import NamedTuple, ParamSpec, TypeVar

from mlops_tui.domain import PERMISSION_DENIED, Model, UserRole
from mlops_tui.errors import MlopsError, PermissionDenied
from mlops_tui.grants import Grant
from mlops_tui.services.context import Context
from mlops_tui.store import Store

P = ParamSpec("P")
T = TypeVar("T")

# The rules, from the widest to the narrowest.
KNOWN = "known"  # any active person but a viewer
RESPONSIBLE = "responsible"  # the model's owner or backup, or a maintainer or admin
MAINTAINER = "maintainer"  # a maintainer or an admin
ADMIN = "admin"  # an admin (a maintainer while the team has none, so it can name one)

RULE_TEXT = {
    KNOWN: "any active person but a viewer",
    RESPONSIBLE: "the model's owner or backup, or a maintainer or admin",
    MAINTAINER: "a maintainer or an admin",
    ADMIN: "an admin",
}


class Action(NamedTuple):
    rule: str
    verb: str  # "{m}" is the model's name


RULES: dict[str, Action] = {
    "create": Action(KNOWN, "add models"),
    "move": Action(KNOWN, "move {m}"),
    "build": Action(KNOWN, "build {m}"),
    "test": Action(KNOWN, "test {m}"),
    "check": Action(KNOWN, "check the health of {m}"),
    "alert": Action(KNOWN, "acknowledge alerts of {m}"),
    "deliver": Action(KNOWN, "deliver webhook events"),
    "request": Action(KNOWN, "ask for approval of {m}"),  # moving to Deploy, deploying
    "reply": Action(KNOWN, "answer a handoff of {m}"),  # and only its receiver (handoffs)
    "cancel": Action(KNOWN, "cancel a handoff of {m}"),  # and only its sender or an admin
    "edit": Action(RESPONSIBLE, "change {m}"),
    "roles": Action(RESPONSIBLE, "change who is responsible for {m}"),
    "handoff": Action(RESPONSIBLE, "hand over {m}"),
    "force": Action(RESPONSIBLE, "force a move of {m}"),
    "deploy": Action(RESPONSIBLE, "deploy {m}"),
    "rollback": Action(RESPONSIBLE, "roll back {m}"),
    "git": Action(RESPONSIBLE, "change the repository of {m}"),
    "runbook": Action(RESPONSIBLE, "set the runbook of {m}"),
    "decide": Action(RESPONSIBLE, "approve or reject {m}"),  # and never the requester
    "gc": Action(MAINTAINER, "remove images and containers"),
    "approval-rule": Action(ADMIN, "change approval rules"),  # and never whom it binds
    "webhook": Action(ADMIN, "manage webhooks"),
    "alertmanager": Action(KNOWN, "raise alerts on {m}"),
    "manage": Action(ADMIN, "manage people"),
    "token": Action(ADMIN, "manage API tokens"),
    "settings": Action(ADMIN, "change the team's settings"),
    "import": Action(ADMIN, "import a history"),
    "mlflow-import": Action(MAINTAINER, "import models from MLflow"),
    "mlflow-sync": Action(KNOWN, "sync {m} from MLflow"),
    "mlflow-link": Action(RESPONSIBLE, "link {m} to MLflow"),
}


# -- deciding ------------------------------------------------------------------------------
def standing(ctx: Context) -> tuple[str | None, str | None, str | None]:
    """(role, joins as, why not at all) for the actor, before any action is considered."""
    from mlops_tui.services import team

    user = ctx.store.get_user(ctx.actor)
    if user is None:
        if not team.get_setting(ctx, "open_join"):
            return (
                None,
                None,
                f"{ctx.actor} is not on the team and open_join is off",
            )
        return str(UserRole.MAINTAINER), str(UserRole.MAINTAINER), None
    if not user.active:
        return str(user.role), None, f"{ctx.actor} was deactivated"
    if user.role == UserRole.VIEWER:
        return str(user.role), None, "viewers read only (an admin can change your role)"
    return str(user.role), None, None


def _why_not(ctx: Context, rule: str, role: str, model: Model | None) -> str | None:
    """Why `role` falls short of `rule` (for `model`), or None when it does not."""
    if rule == KNOWN or role == UserRole.ADMIN:
        return None
    if rule == ADMIN:
        if role == UserRole.MAINTAINER and not ctx.store.count_admins():
            return None  # a new team: its maintainers name the first admin
        return "it needs an admin"
    if rule == MAINTAINER:
        return None if role == UserRole.MAINTAINER else "it needs a maintainer or an admin"
    # RESPONSIBLE
    if role == UserRole.MAINTAINER:
        return None
    if model is not None and ctx.actor in (model.owner, model.backup):
        return None
    return "it needs the model's owner or backup, or a maintainer or admin"


def why_not(ctx: Context, action: str, model: Model | None = None) -> str | None:
    """Whether the actor could do `action` (on `model`), without recording anything: for
    screens that offer only what may be done. None means yes."""
    role, _, refused = standing(ctx)
    if refused or role is None:
        return refused or "not on the team"
    return _why_not(ctx, RULES[action].rule, role, model)


def deny(
    ctx: Context,
    action: str,
    model: Model | str | None,
    why: str,
    *,
    cli: str = "",
    tui: str = "",
) -> PermissionDenied:
    """Record a refusal and return the error to raise."""
    name = model.name if isinstance(model, Model) else model
    verb = RULES[action].verb if action in RULES else action
    message = f"{ctx.actor} may not {verb.format(m=name or 'models')}: {why}"
    grant = Grant(ctx.actor, "refusal", kinds=frozenset({PERMISSION_DENIED}))
    with ctx.store.acting(grant):
        ctx.record(PERMISSION_DENIED, name, action=action, rule=why)
    return PermissionDenied(message, cli=cli, tui=tui)


def admit(ctx: Context, action: str, target: str | None = None) -> Grant:
    """The grant for `action`, or PermissionDenied (recorded) when the actor may not even
    try. `target` names the model the refusal is recorded against, if there is one."""
    rule = RULES[action].rule
    role, joined, refused = standing(ctx)
    if refused is None and role is not None and rule != RESPONSIBLE:
        refused = _why_not(ctx, rule, role, None)
    if refused is not None:
        stranger = role is None  # not on the team, and open_join is off
        cli = f"an admin adds them with `mlops user add {ctx.actor}`" if stranger else ""
        tui = "an admin must add them first" if stranger else ""
        raise deny(ctx, action, _existing(ctx, target), refused, cli=cli, tui=tui)
    assert role is not None
    needs_model = rule == RESPONSIBLE and role not in (UserRole.MAINTAINER, UserRole.ADMIN)
    return Grant(
        ctx.actor,
        action,
        role=role,
        joined=joined,
        models=set() if needs_model else None,
        pending=needs_model,
    )


def _existing(ctx: Context, name: str | None) -> str | None:
    """The model to record a refusal against: only one that exists (a refusal never names
    a model somebody might create later)."""
    if not name:
        return None
    try:
        return ctx.store.get_model(name).name
    except (MlopsError, TypeError, ValueError):
        return None


def check(ctx: Context, model: Model, action: str | None = None) -> Grant:
    """Finish the grant in force for `model` (with `action`'s rule, when a use case's rule
    depends on the model's state), or record the refusal and raise PermissionDenied."""
    grant = ctx.store.grants.current
    if grant is None or grant.actor != ctx.actor or grant.role is None:
        raise AssertionError("gate.check outside a use case admitted by the gate")
    action = action or grant.action
    why = _why_not(ctx, RULES[action].rule, grant.role, model)
    if why is not None:
        raise deny(ctx, action, model, why)
    if grant.models is not None:
        grant.models.add(model.name)
        grant.pending = False
    return grant


# -- declaring -----------------------------------------------------------------------------
def writes(action: str, *, model: str | None = None) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Declare a write use case: `fn(ctx, …)` runs only once the gate admits `action`.

    `model` names the parameter that holds the model's name, so that a refusal is recorded
    against the model.
    """
    if action not in RULES:
        raise ValueError(f"no rule for {action!r}")

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        position = None
        if model is not None:
            names = fn.__code__.co_varnames[: fn.__code__.co_argcount]
            position = names.index(model) if model in names else None

        @functools.wraps(fn)
        def use_case(*args: P.args, **kwargs: P.kwargs) -> T:
            ctx = args[0]
            assert isinstance(ctx, Context)
            target = None
            if model is not None:
                target = kwargs.get(model)
                if target is None and position is not None and position < len(args):
                    target = args[position]
            grant = admit(ctx, action, target if isinstance(target, str) else None)
            with ctx.store.acting(grant):
                result = fn(*args, **kwargs)
            _after_write(ctx)
            return result

        use_case.__dict__["action"] = action  # read by the permission matrix
        return use_case

    return decorate


@contextmanager
def acting(ctx: Context, action: str, target: str | None = None) -> Iterator[Grant]:
    """The gate for a block rather than a function (a loop that writes as it goes)."""
    grant = admit(ctx, action, target)
    with ctx.store.acting(grant):
        yield grant
    _after_write(ctx)


def _after_write(ctx: Context) -> None:
    """Once the outermost use case has committed: keep time travel's checkpoints current
    (a cheap look at how far behind they are; rarely, a new one in its own transaction)."""
    if ctx.store.grants.current is None:
        from mlops_tui.services import checkpoints

        checkpoints.keep(ctx)


@contextmanager
def bookkeeping(ctx: Context, records: Iterable[str] = ()) -> Iterator[Grant]:
    """For writes that change nobody's data: the webhook relay's outbox and the marker of
    what someone last looked at. Anyone may, viewers included. `records`: the only kinds of
    event it may append, the outcome of a relay's delivery (none by default); it can still
    change no table the history describes."""
    grant = Grant(ctx.actor, "bookkeeping", kinds=frozenset(records))
    with ctx.store.acting(grant):
        yield grant


@contextmanager
def scratch(store: Store) -> Iterator[Grant]:
    """For a throwaway in-memory database the tool made itself (an import probing which
    line the database refuses): nobody's data, so no rule applies."""
    with store.acting(Grant("mlops", "scratch")) as grant:
        yield grant


def rule_of(action: str) -> str:
    return RULES[action].rule
