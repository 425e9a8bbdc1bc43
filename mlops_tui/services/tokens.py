"""API tokens: how `mlops serve` knows who sent a request.

A token belongs to one person (or service account) on the team; whatever a request does, it
does as that person, through the same gate as the CLI. The secret is shown once, when the
token is made, and only its SHA-256 is stored: a leaked database or export gives no secret
back, and a secret of 256 random bits needs no slow hash to resist guessing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from mlops_tui import domain
from mlops_tui.domain import TOKEN_CREATED, TOKEN_REVOKED, Token, User
from mlops_tui.errors import InvalidInput, no_such
from mlops_tui.services import gate, team
from mlops_tui.services.context import Context
from mlops_tui.store import Store, schema

PREFIX = "mlops_"
#: how often a token's "last used" is written: a scrape every 15 s must not write each time
LAST_USED_EVERY = timedelta(minutes=1)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@gate.writes("token")
def create(ctx: Context, name: str, *, for_user: str | None = None) -> tuple[Token, str]:
    """A new token for `for_user` (the actor by default): (the token, its secret). The
    secret is returned once and never stored."""
    name = domain.validate_user(name, "token name")
    holder = team.user(ctx, for_user or ctx.actor)
    if not holder.active:
        raise InvalidInput(f"{holder.name} was deactivated: a token would admit nobody")
    secret = PREFIX + secrets.token_urlsafe(32)
    event = ctx.event(TOKEN_CREATED, None, token=name, user=holder.name)
    token = Token(name, holder.name, event.at, ctx.actor)
    row = {
        "name": name,
        "person": holder.name,
        "hash": digest(secret),
        "created_at": event.at,
        "created_by": ctx.actor,
    }
    with ctx.store.transaction() as tx:
        tx.rows(schema.TOKENS).add(row, duplicate=f"a token named {name} exists already")
        tx.events.append(event)
    return token, secret


@gate.writes("token")
def revoke(ctx: Context, name: str) -> Token:
    """Revoke a token: the next request that carries it gets 401."""
    name = domain.validate_user(name, "token name")
    found = ctx.store.row(schema.TOKENS, name=name)
    if found is None:
        raise _no_token(ctx, name)
    with ctx.store.transaction() as tx:
        gone = tx.rows(schema.TOKENS).delete(name=name)
        if gone:
            tx.events.append(ctx.event(TOKEN_REVOKED, None, token=name, user=found.user))
    if not gone:  # revoked by someone else in the meantime
        raise _no_token(ctx, name)
    return found


def tokens(ctx: Context) -> list[Token]:
    return ctx.store.rows(schema.TOKENS, order="name")


def _no_token(ctx: Context, name: str) -> Exception:
    known = [t.name for t in tokens(ctx)]
    return no_such("token", name, known, cli="see `mlops token list`")


def authenticate(store: Store, secret: str) -> tuple[Token, User] | None:
    """(the token, the active person it admits), or None: an unknown secret, a revoked
    token, or a person who was deactivated. Marks the token used, at most once a minute."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token = store.row(schema.TOKENS, hash=digest(secret))
    if token is None:
        return None
    user = store.get_user(token.user)
    if user is None or not user.active:
        return None
    ctx = Context(store, user.name)
    now = ctx.clock()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        with gate.bookkeeping(ctx), store.transaction() as tx:
            tx.rows(schema.TOKENS).update({"last_used_at": now}, name=token.name)
    return token, user
