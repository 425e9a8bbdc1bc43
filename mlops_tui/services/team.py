"""People, their roles, the shared settings, and the one rule book every action goes through.

`authorize(ctx, action, model)` is called by each service before it changes anything. A
refusal names the rule, is recorded in the history (`permission.denied`) and raises
PermissionDenied. A person the tool has never seen joins as a maintainer with their first
change (the change's event carries `joined`), unless an admin turned `open_join` off.
"""

from __future__ import annotations

from typing import Any

from mlops_tui import domain
from mlops_tui.domain import (
    PERMISSION_DENIED,
    SETTING_SET,
    USER_ADDED,
    USER_CHANGED,
    InvalidInput,
    Model,
    NotFound,
    PermissionDenied,
    Role,
    Stage,
    User,
    UserRole,
)
from mlops_tui.services.context import Context

# What each action needs. "known": any active user but a viewer. "responsible": the
# model's owner or backup, or a maintainer or admin. "admin": an admin (until the team has
# one, a maintainer, so that a new team can name its first admin).
RULES = {
    "create": "known",
    "move": "known",
    "build": "known",
    "test": "known",
    "roles": "known",  # backup / on-call, or the owner of a model before deploy
    "handoff": "known",
    "force": "responsible",
    "deploy": "responsible",
    "rollback": "responsible",
    "owner": "responsible",  # changing the owner of a model in deploy or monitor
    "alert": "known",
    "manage": "admin",
}
_VERBS = {
    "create": "add models",
    "move": "move {m}",
    "build": "build {m}",
    "test": "test {m}",
    "roles": "change the roles of {m}",
    "handoff": "hand over {m}",
    "force": "force a move of {m}",
    "deploy": "deploy {m}",
    "rollback": "roll back {m}",
    "owner": "change the owner of {m}",
    "alert": "acknowledge alerts of {m}",
    "manage": "manage people and settings",
}
# Shared settings: name -> (default, what it means).
SETTINGS: dict[str, tuple[Any, str]] = {
    "open_join": (True, "people never seen join as maintainers on their first change"),
    "identity": (
        "env",
        "env: the actor is MLOPS_USER or the login name; "
        "database: the PostgreSQL role of the connection",
    ),
    "handoff_checklist": (
        list(domain.DEFAULT_CHECKLIST),
        "the items the receiver of a handoff ticks before accepting",
    ),
    "check_stale_hours": (24, "on-call: a production model unchecked for longer is stale"),
}


# -- who is acting ---------------------------------------------------------------------
def resolve_actor(store: Any, claimed: str) -> str:
    """The actor for a new Context: `claimed` (MLOPS_USER or the login name), unless the
    team set identity = "database" on PostgreSQL, where it is the connection's role."""
    if getattr(store, "backend", None) != "postgresql":
        return claimed
    if store.get_setting("identity") != "database":
        return claimed
    return domain.validate_user(store.database_user(), "database role")


# -- the rule book -----------------------------------------------------------------------
def deny(ctx: Context, action: str, model: Model | None, rule: str) -> PermissionDenied:
    ctx.join_as = None  # refused: nobody joins by being refused
    verb = _VERBS.get(action, action).format(m=model.name if model else "models")
    message = f"{ctx.actor} may not {verb}: {rule}"
    ctx.store.append_event(
        ctx.event(PERMISSION_DENIED, model.name if model else None, action=action, rule=rule)
    )
    return PermissionDenied(message)


def authorize(ctx: Context, action: str, model: Model | None = None) -> User | None:
    """Allow the action or raise PermissionDenied (recorded) naming the rule it breaks.

    Returns the acting user (None for someone about to join with this change).
    """
    need = RULES[action]
    store: Any = ctx.store
    user = store.get_user(ctx.actor)
    ctx.join_as = None
    if user is None:
        if not get_setting(ctx, "open_join"):
            raise deny(
                ctx,
                action,
                model,
                "only people added with `mlops user add` may act here (open_join is off)",
            )
        role = UserRole.MAINTAINER
        ctx.join_as = str(role)
    elif not user.active:
        raise deny(ctx, action, model, f"{ctx.actor} was deactivated")
    else:
        role = user.role
    if role == UserRole.VIEWER:
        raise deny(ctx, action, model, "viewers read only (an admin can change your role)")
    if (
        need == "responsible"
        and role == UserRole.MEMBER
        and (model is None or ctx.actor not in (model.owner, model.backup))
    ):
        raise deny(
            ctx, action, model, "it needs the model's owner or backup, or a maintainer or admin"
        )
    if (
        need == "admin"
        and role != UserRole.ADMIN
        and (role != UserRole.MAINTAINER or store.count_admins())
    ):
        raise deny(ctx, action, model, "it needs an admin")
    return user


def role_action(model: Model, role: Role) -> str:
    """Changing the owner of a model in deploy or monitor is for those responsible."""
    if role == Role.OWNER and model.stage in (Stage.DEPLOY, Stage.MONITOR):
        return "owner"
    return "roles"


# -- people ------------------------------------------------------------------------------
def users(ctx: Context) -> list[User]:
    return ctx.store.list_users()  # type: ignore[attr-defined]


def user(ctx: Context, name: str) -> User:
    found = ctx.store.get_user(domain.validate_user(name))  # type: ignore[attr-defined]
    if found is None:
        raise NotFound(f"no user named {name!r} (see `mlops user list`)")
    return found


def holdings(ctx: Context, name: str) -> list[tuple[str, str]]:
    """(model, role) for every model this person owns, backs up or is on call for: what a
    hand-over must cover when they leave."""
    return [
        (m.name, str(role))
        for m in ctx.store.list_models()
        for role in Role
        if m.holder(role) == name
    ]


def add_user(
    ctx: Context, name: str, *, email: str | None = None, role: UserRole | str = "maintainer"
) -> User:
    name = domain.validate_user(name)
    role = role if isinstance(role, UserRole) else domain.parse_user_role(role)
    email = domain.validate_email(email)
    authorize(ctx, "manage")
    event = ctx.event(USER_ADDED, None, user=name, role=str(role))
    if email:
        event.data["email"] = email
    new = User(
        name=name,
        role=role,
        active=True,
        email=email,
        created_at=event.at,
        created_by=ctx.actor,
        updated_at=event.at,
        updated_by=ctx.actor,
    )
    return ctx.store.add_user(new, event)  # type: ignore[attr-defined]


def _change(ctx: Context, name: str, **changes: Any) -> User:
    before = user(ctx, name)
    authorize(ctx, "manage")
    data: dict[str, Any] = {"user": before.name}
    for key, value in changes.items():
        old = getattr(before, key)
        data[key] = {"before": str(old) if isinstance(old, UserRole) else old, "after": value}
    return ctx.store.update_user(before.name, changes, ctx.event(USER_CHANGED, None, **data))  # type: ignore[attr-defined]


def set_role(ctx: Context, name: str, role: UserRole | str) -> User:
    role = role if isinstance(role, UserRole) else domain.parse_user_role(role)
    current = user(ctx, name)
    if current.role == role:
        raise InvalidInput(f"{name} is already a {role}")
    if current.role == UserRole.ADMIN and ctx.store.count_admins() == 1:  # type: ignore[attr-defined]
        raise InvalidInput(f"{name} is the last admin: make someone else admin first")
    return _change(ctx, name, role=str(role))


def set_email(ctx: Context, name: str, email: str | None) -> User:
    return _change(ctx, name, email=domain.validate_email(email))


def deactivate(ctx: Context, name: str) -> User:
    """Someone left: they can no longer act, and the models they own are orphaned until
    someone takes them over (`mlops handoff --from NAME --to USER`)."""
    current = user(ctx, name)
    if not current.active:
        raise InvalidInput(f"{name} is already deactivated")
    if current.role == UserRole.ADMIN and ctx.store.count_admins() == 1:  # type: ignore[attr-defined]
        raise InvalidInput(f"{name} is the last admin: make someone else admin first")
    return _change(ctx, name, active=False)


def reactivate(ctx: Context, name: str) -> User:
    if user(ctx, name).active:
        raise InvalidInput(f"{name} is active")
    return _change(ctx, name, active=True)


def orphaned(ctx: Context) -> set[str]:
    """Names of people who left (their models are orphaned)."""
    return ctx.store.inactive_users()  # type: ignore[attr-defined]


def owned_by(ctx: Context, name: str) -> list[Model]:
    return ctx.store.list_models(owner=name)


# -- shared settings ---------------------------------------------------------------------
def get_setting(ctx: Context, key: str) -> Any:
    value = ctx.store.get_setting(key)  # type: ignore[attr-defined]
    return SETTINGS[key][0] if value is None else value


def list_settings(ctx: Context) -> list[tuple[str, Any, str, str | None]]:
    """(key, value, meaning, "when by whom" or None for a default)."""
    stored = ctx.store.settings()  # type: ignore[attr-defined]
    out = []
    for key, (default, meaning) in SETTINGS.items():
        if key in stored:
            value, at, by = stored[key]
            out.append((key, value, meaning, f"{at.isoformat(timespec='seconds')} by {by}"))
        else:
            out.append((key, default, meaning, None))
    return out


def _parse_setting(ctx: Context, key: str, text: str) -> Any:
    if key == "open_join":
        value = text.strip().lower()
        if value in ("true", "yes", "on", "1"):
            return True
        if value in ("false", "no", "off", "0"):
            return False
        raise InvalidInput(f"open_join is true or false, not {text!r}")
    if key == "identity":
        value = text.strip().lower()
        if value not in ("env", "database"):
            raise InvalidInput(f"identity is env or database, not {text!r}")
        if value == "database" and ctx.store.backend != "postgresql":
            raise InvalidInput("identity = database needs PostgreSQL (SQLite has no roles)")
        return value
    if key == "handoff_checklist":
        return domain.validate_checklist(text.split(","))
    if key == "check_stale_hours":
        try:
            hours = int(text)
        except ValueError:
            hours = 0
        if not 1 <= hours <= 24 * 90:
            raise InvalidInput(f"check_stale_hours is a number of hours (1 to 2160), not {text!r}")
        return hours
    raise InvalidInput(f"unknown setting {key!r}: choose one of {', '.join(SETTINGS)}")


def set_setting(ctx: Context, key: str, text: str) -> Any:
    value = _parse_setting(ctx, key, text)
    authorize(ctx, "manage")
    before = get_setting(ctx, key)
    event = ctx.event(SETTING_SET, None, key=key, before=before, after=value)
    ctx.store.set_setting(key, value, event)  # type: ignore[attr-defined]
    return value


# -- how the team's events read in the history ------------------------------------------
TEAM_KINDS = frozenset(
    {
        USER_ADDED,
        USER_CHANGED,
        SETTING_SET,
        PERMISSION_DENIED,
        domain.HANDOFF_REQUESTED,
        domain.HANDOFF_TICKED,
        domain.HANDOFF_DECLINED,
        domain.HANDOFF_CANCELLED,
        domain.MODEL_LINKED,
    }
)


def describe(kind: str, d: dict[str, Any]) -> str:
    """One line for the team's events (queries.describe adds the note)."""
    if kind == USER_ADDED:
        return f"added {d.get('user')} as {d.get('role')}"
    if kind == USER_CHANGED:
        parts = []
        for key in ("role", "email", "active"):
            if isinstance(d.get(key), dict):
                before, after = d[key].get("before"), d[key].get("after")
                if key == "active":
                    parts.append("deactivated" if not after else "reactivated")
                else:
                    parts.append(f"{key} {before or '-'} → {after or '-'}")
        return f"{d.get('user')}: " + ", ".join(parts)
    if kind == SETTING_SET:
        import json

        before, after = (json.dumps(d.get(k), ensure_ascii=False) for k in ("before", "after"))
        return f"setting {d.get('key')}: {before} → {after}"
    if kind == PERMISSION_DENIED:
        return f"refused {d.get('action')}: {d.get('rule')}"
    if kind == domain.HANDOFF_REQUESTED:
        return f"handoff #{d.get('handoff')} offered: {d.get('from')} → {d.get('to')}"
    if kind == domain.HANDOFF_TICKED:
        what = "ticked" if d.get("done", True) else "unticked"
        return f"handoff #{d.get('handoff')}: {what} {', '.join(d.get('items') or [])}"
    if kind == domain.HANDOFF_DECLINED:
        return f"handoff #{d.get('handoff')} declined"
    if kind == domain.HANDOFF_CANCELLED:
        return f"handoff #{d.get('handoff')} cancelled"
    if kind == domain.MODEL_LINKED:
        return f"{d.get('link')}: {d.get('url') or 'removed'}"
    return ", ".join(f"{k}={v}" for k, v in d.items() if k != "note")


# -- "what changed since the owner last looked" ------------------------------------------
def looked(ctx: Context, model: Model) -> None:
    """Remember that the owner looked at their model (the detail screen, `model show`)."""
    if ctx.actor == model.owner:
        ctx.store.record_view(model.name, ctx.actor, ctx.clock())  # type: ignore[attr-defined]


def changes_since_owner_looked(
    ctx: Context, name: str, limit: int = 200
) -> tuple[Model, Any, list[Any]]:
    """(model, (when, head) of the owner's last look or None, the model's events since),
    newest first: what its owner has not seen yet."""
    model = ctx.store.get_model(domain.validate_model_name(name))
    seen = ctx.store.last_view(model.name, model.owner)  # type: ignore[attr-defined]
    after = seen[1] if seen else 0
    return model, seen, ctx.store.events_after(model.name, after, limit)  # type: ignore[attr-defined]
