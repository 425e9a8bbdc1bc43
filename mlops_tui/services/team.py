"""People, their roles and the team's shared settings.

Who may do what is `services.gate`'s. A person the tool has never seen joins as a maintainer
with their first change (the change's event carries `joined`), unless an admin turned
`open_join` off.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mlops_tui import domain
from mlops_tui.domain import (
    PERMISSION_DENIED,
    SETTING_SET,
    USER_ADDED,
    USER_CHANGED,
    Event,
    Model,
    Role,
    User,
    UserRole,
)
from mlops_tui.errors import InvalidInput, NotFound, did_you_mean, no_such
from mlops_tui.services import gate
from mlops_tui.services.context import Context
from mlops_tui.store import Store, schema
from mlops_tui.store.schema import After

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
def resolve_actor(store: Store, claimed: str) -> str:
    """The actor for a new Context: `claimed` (MLOPS_USER or the login name), unless the
    team set identity = "database" on PostgreSQL, where it is the connection's role."""
    if getattr(store, "backend", None) != "postgresql":
        return claimed
    if store.get_setting("identity") != "database":
        return claimed
    role = store.database_user()
    if role is None:  # PostgreSQL always names one; a backend without roles cannot vouch
        raise InvalidInput("identity = database, but the database names no role for you")
    return domain.validate_user(role, "database role")


# -- people ------------------------------------------------------------------------------
def users(ctx: Context) -> list[User]:
    return ctx.store.rows(schema.USERS, order="name")


def user(ctx: Context, name: str) -> User:
    found = ctx.store.get_user(domain.validate_user(name))
    if found is None:
        raise no_user(ctx, name)
    return found


def people(ctx: Context) -> list[User]:
    """The team's people: service accounts act, but are not people."""
    return [u for u in users(ctx) if not u.bot]


def receivers(ctx: Context) -> list[User]:
    """Who can be made responsible for a model: active people who are not viewers."""
    return [u for u in people(ctx) if u.active and u.role != UserRole.VIEWER]


def responsible(ctx: Context, name: str, what: str) -> str:
    """`name`, checked as someone who can answer for a model (`what`: owner, backup, on
    call, receiver). Nobody can be made responsible without existing: a typo would leave a
    model nobody is paged for. The one stranger let through is the actor when open_join
    lets them join with this very change (the gate admitted them)."""
    name = domain.validate_user(name, what)
    found = ctx.store.get_user(name)
    if found is None:
        grant = ctx.store.grants.current
        if name == ctx.actor and grant is not None and grant.joined:
            return name
        known = [u.name for u in receivers(ctx)]
        hint = did_you_mean(name, known)
        raise NotFound(
            f"{name} is not on the team, so cannot be the {what}" + (f": {hint}" if hint else ""),
            cli=f"add them with `mlops user add {name}`",
            tui="an admin must add them first",
        )
    if found.bot:
        raise InvalidInput(f"{name} is a service account: only a person can be the {what}")
    if not found.active:
        raise InvalidInput(f"{name} was deactivated: name someone who is still here")
    if found.role == UserRole.VIEWER:
        raise InvalidInput(
            f"{name} is a viewer and cannot be the {what}: an admin can change their role"
        )
    return name


def no_user(ctx: Context, name: str) -> NotFound:
    """An unknown name, with the close names on the team."""
    known = [u.name for u in ctx.store.rows(schema.USERS)]
    return no_such("user", name, known, cli="see `mlops user list`")


def holdings(ctx: Context, name: str) -> list[tuple[str, str]]:
    """(model, role) for every model this person owns, backs up or is on call for: what a
    hand-over must cover when they leave."""
    return [
        (m.name, str(role))
        for m in ctx.store.list_models()
        for role in Role
        if m.holder(role) == name
    ]


@gate.writes("manage")
def add_user(
    ctx: Context,
    name: str,
    *,
    email: str | None = None,
    role: UserRole | str = "maintainer",
    bot: bool = False,
) -> User:
    """Add a person, or with `bot` a service account (the monitor, CI, a server): it acts
    under its own name with its role's rights, but holds no model."""
    name = domain.validate_user(name)
    role = role if isinstance(role, UserRole) else domain.parse_user_role(role)
    email = domain.validate_email(email)
    event = ctx.event(USER_ADDED, None, user=name, role=str(role))
    if email:
        event.data["email"] = email
    if bot:
        event.data["bot"] = True
    new = User(
        name=name,
        role=role,
        active=True,
        email=email,
        created_at=event.at,
        created_by=ctx.actor,
        updated_at=event.at,
        updated_by=ctx.actor,
        bot=bot,
    )
    with ctx.store.transaction() as tx:
        tx.rows(schema.USERS).insert(new, duplicate=f"{name} is already a user")
        tx.events.append(event)
    return new


def _change(ctx: Context, name: str, **changes: Any) -> User:
    before = user(ctx, name)
    data: dict[str, Any] = {"user": before.name}
    for key, value in changes.items():
        old = getattr(before, key)
        data[key] = {"before": str(old) if isinstance(old, UserRole) else old, "after": value}
    event = ctx.event(USER_CHANGED, None, **data)
    with ctx.store.transaction() as tx:
        stamped = {**changes, "updated_at": event.at, "updated_by": ctx.actor}
        after = tx.rows(schema.USERS).update(stamped, name=before.name)
        if after is None:
            raise no_user(ctx, name)
        tx.events.append(event)
    return after


@gate.writes("manage")
def set_role(ctx: Context, name: str, role: UserRole | str) -> User:
    role = role if isinstance(role, UserRole) else domain.parse_user_role(role)
    current = user(ctx, name)
    if current.role == role:
        raise InvalidInput(f"{name} is already a {role}")
    if current.role == UserRole.ADMIN and ctx.store.count_admins() == 1:
        raise InvalidInput(f"{name} is the last admin: make someone else admin first")
    return _change(ctx, name, role=str(role))


@gate.writes("manage")
def set_email(ctx: Context, name: str, email: str | None) -> User:
    return _change(ctx, name, email=domain.validate_email(email))


@gate.writes("manage")
def deactivate(ctx: Context, name: str) -> User:
    """Someone left: they can no longer act, and the models they own are orphaned until
    someone takes them over (`mlops handoff --from NAME --to USER`)."""
    current = user(ctx, name)
    if not current.active:
        raise InvalidInput(f"{name} is already deactivated")
    if current.role == UserRole.ADMIN and ctx.store.count_admins() == 1:
        raise InvalidInput(f"{name} is the last admin: make someone else admin first")
    return _change(ctx, name, active=False)


@gate.writes("manage")
def reactivate(ctx: Context, name: str) -> User:
    if user(ctx, name).active:
        raise InvalidInput(f"{name} is active")
    return _change(ctx, name, active=True)


def orphaned(ctx: Context) -> set[str]:
    """Names of people who left (their models are orphaned)."""
    return ctx.store.inactive_users()


def owned_by(ctx: Context, name: str) -> list[Model]:
    return ctx.store.list_models(owner=name)


# -- shared settings ---------------------------------------------------------------------
def get_setting(ctx: Context, key: str) -> Any:
    value = ctx.store.get_setting(key)
    return SETTINGS[key][0] if value is None else value


def shared_database_risks(store: Store) -> list[str]:
    """What the settings let anyone who can connect do, on a database a team shares.

    SQLite is one person's file (the filesystem decides who writes it), so it has none.
    """
    if getattr(store, "backend", None) != "postgresql":
        return []
    found = store.get_setting("open_join")
    open_join = SETTINGS["open_join"][0] if found is None else found
    identity = store.get_setting("identity") or SETTINGS["identity"][0]
    risks = []
    if identity != "database":
        risks.append(
            "identity is env: anyone who can connect acts as whoever MLOPS_USER names, an "
            "admin included; give each person a database role and run "
            "`mlops settings set identity database`"
        )
    if open_join:
        risks.append(
            "open_join is on: anyone who can connect and is not on the team joins as a "
            "maintainer with their first change; once everyone is added, run "
            "`mlops settings set open_join false`"
        )
    return risks


def list_settings(ctx: Context) -> list[tuple[str, Any, str, str | None]]:
    """(key, value, meaning, "when by whom" or None for a default)."""
    stored = ctx.store.settings()
    out: list[tuple[str, Any, str, str | None]] = []
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


@gate.writes("settings")
def set_setting(ctx: Context, key: str, text: str) -> Any:
    value = _parse_setting(ctx, key, text)
    before = get_setting(ctx, key)
    event = ctx.event(SETTING_SET, None, key=key, before=before, after=value)
    row = {"key": key, "value": json.dumps(value), "updated_at": event.at, "updated_by": ctx.actor}
    with ctx.store.transaction() as tx:
        tx.rows(schema.SETTINGS).upsert(row, ["key"])
        tx.events.append(event)
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
        domain.TOKEN_CREATED,
        domain.TOKEN_REVOKED,
    }
)


def describe(kind: str, d: dict[str, Any]) -> str:
    """One line for the team's events (queries.describe adds the note)."""
    if kind == USER_ADDED:
        bot = " (bot)" if d.get("bot") else ""
        return f"added {d.get('user')} as {d.get('role')}{bot}"
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
    if kind == domain.TOKEN_CREATED:
        return f"token {d.get('token')} created for {d.get('user')}"
    if kind == domain.TOKEN_REVOKED:
        return f"token {d.get('token')} of {d.get('user')} revoked"
    if kind == domain.MODEL_LINKED:
        return f"{d.get('link')}: {d.get('url') or 'removed'}"
    return ", ".join(f"{k}={v}" for k, v in d.items() if k != "note")


# -- "what changed since the owner last looked" ------------------------------------------
def looked(ctx: Context, model: Model) -> None:
    """Remember that the owner looked at their model (the detail screen, `model show`)."""
    if ctx.actor == model.owner:
        seen = {
            "model": model.name,
            "actor": ctx.actor,
            "at": ctx.clock(),
            "head": ctx.store.head(),
        }
        with gate.bookkeeping(ctx), ctx.store.transaction() as tx:
            tx.rows(schema.VIEWS).upsert(seen, ["model", "actor"])


def changes_since_owner_looked(
    ctx: Context, name: str, limit: int = 200
) -> tuple[Model, tuple[datetime, int] | None, list[Event]]:
    """(model, (when, head) of the owner's last look or None, the model's events since),
    newest first: what its owner has not seen yet."""
    model = ctx.store.get_model(domain.validate_model_name(name))
    seen = ctx.store.last_view(model.name, model.owner)
    after = seen[1] if seen else 0
    return (
        model,
        seen,
        ctx.store.rows(schema.EVENTS, model=model.name, id=After(after), limit=limit),
    )
