"""Reading the shared state: the status board, one model, and the history."""

from __future__ import annotations

from datetime import datetime

from mlops_tui import domain
from mlops_tui.domain import Event, Model, NotFound, Stage, Version
from mlops_tui.services.context import Context
from mlops_tui.store import StatusRow


def status(
    ctx: Context, *, stage: Stage | None = None, owner: str | None = None
) -> list[StatusRow]:
    return ctx.store.status_rows(stage=stage, owner=owner)


def models(ctx: Context, *, stage: Stage | None = None, owner: str | None = None) -> list[Model]:
    return ctx.store.list_models(stage=stage, owner=owner)


def head(ctx: Context) -> int:
    """A token that changes whenever anyone changes anything (the newest event id)."""
    return ctx.store.head()


def model(ctx: Context, name: str) -> Model:
    return ctx.store.get_model(domain.validate_model_name(name))


def versions(ctx: Context, name: str) -> list[Version]:
    """The model's versions, newest first: what each was built from."""
    return ctx.store.versions(domain.validate_model_name(name))


def history(
    ctx: Context,
    *,
    model: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 50,
) -> list[Event]:
    """Newest first. Asking for a model that never existed is an error, not an empty list."""
    if model is not None:
        domain.validate_model_name(model)
    if limit is not None and limit < 0:
        raise domain.InvalidInput("--limit must be 0 (no limit) or more")
    events = ctx.store.history(
        model=model, actor=actor, since=since, until=until, limit=limit or None
    )
    if model is not None and not events and ctx.store.last_event(model) is None:
        raise NotFound(f"no model named {model!r} (see `mlops model list`)")
    return events


def describe(event: Event) -> str:
    """One line saying what an event did, for the history table and the TUI timeline."""
    d = event.data
    if event.kind == domain.MODEL_MOVED:
        text = f"{d.get('from')} → {d.get('to')}"
        move = d.get("move")
        if move in ("rework", "forced", "iteration"):
            text += (
                f" ({'new iteration ' + str(d.get('iteration')) if move == 'iteration' else move})"
            )
    elif event.kind == domain.MODEL_CREATED:
        text = f"created in {d.get('stage')}, owner {d.get('owner')}"
    elif event.kind == domain.MODEL_EDITED:
        after = d.get("after") or {}
        text = "set " + ", ".join(f"{k} to {_shown(after.get(k))}" for k in d.get("fields", []))
    elif event.kind == domain.ROLE_SET:
        before = d.get("before") or "nobody"
        text = f"{d.get('role')}: {before} → {d.get('after')}"
    elif event.kind.startswith("build."):
        text = _describe_build(event.kind, d)
    elif event.kind.startswith("git."):
        text = _describe_git(event.kind[4:], d)
    else:
        text = ", ".join(f"{k}={v}" for k, v in d.items() if k != "note")
    if d.get("note"):
        text += f": {d['note']}"
    return text


def _describe_build(kind: str, d: dict) -> str:
    where = f"build #{d.get('build')} of v{d.get('version')}"
    if kind == domain.BUILD_STARTED:
        return f"{where} started at {str(d.get('commit'))[:12]} ({d.get('ref')})"
    if kind == domain.BUILD_RECORDED:
        return f"CI {where} at {str(d.get('commit'))[:12]}: {d.get('image')}"
    text = f"{where} {d.get('status')}"
    if d.get("error"):
        text += f": {d['error']}"
    elif d.get("url"):
        text += f" ({d['url']})"
    return text


def _describe_git(op: str, d: dict) -> str:
    if not d.get("ok", True):
        return f"git {op} failed: {d.get('error')}"
    if op == "tag":
        return f"tagged {str(d.get('commit'))[:12]} as {d.get('tag')}"
    if op == "push":
        tags = d.get("tags") or []
        return f"pushed to {d.get('remote')}" + (f" with {', '.join(tags)}" if tags else "")
    if op == "commit":
        return f"committed {str(d.get('commit'))[:12]}: {d.get('message')}"
    if op == "pull":
        return f"pulled {str(d.get('before'))[:12]} → {str(d.get('after'))[:12]}"
    return op


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return str(value) if value not in (None, "") else "none"
