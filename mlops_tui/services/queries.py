"""Reading the shared state: the status board, one model, and the history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlops_tui import domain
from mlops_tui.domain import Event, Model, Stage, Version
from mlops_tui.domain.mlflow import MlflowVersion
from mlops_tui.errors import InvalidInput, no_such
from mlops_tui.services import team as _team
from mlops_tui.services.context import Context
from mlops_tui.store import StatusRow, schema


def _stale(ctx: Context) -> set[str]:
    """Production models past their monitoring deadline (the staleness rule: no
    successful check within [monitor].max_age reads as stale unless the model is critical)."""
    return ctx.store.stale_models(ctx.clock())


def _health(stored: str, stale: bool) -> str:
    return "stale" if stale and stored != "critical" else stored


def status(
    ctx: Context, *, stage: Stage | None = None, owner: str | None = None
) -> list[StatusRow]:
    rows = ctx.store.status_rows(stage=stage, owner=owner)
    stale = _stale(ctx)
    if not stale:
        return rows
    return [r._replace(health=_health(r.health, True)) if r.name in stale else r for r in rows]


def models(ctx: Context, *, stage: Stage | None = None, owner: str | None = None) -> list[Model]:
    found = ctx.store.list_models(stage=stage, owner=owner)
    stale = _stale(ctx)
    if not stale:
        return found
    return [_with_health(m, stale) for m in found]


def _with_health(m: Model, stale: set[str]) -> Model:
    if m.name not in stale:
        return m
    from dataclasses import replace

    return replace(m, health=domain.Health(_health(str(m.health), True)))


def head(ctx: Context) -> int:
    """A token that changes whenever anyone changes anything (the newest event id)."""
    return ctx.store.head()


def model(ctx: Context, name: str) -> Model:
    return _with_health(ctx.store.get_model(domain.validate_model_name(name)), _stale(ctx))


def versions(ctx: Context, name: str) -> list[Version]:
    """The model's versions, newest first: what each was built from."""
    return ctx.store.rows(
        schema.VERSIONS, model=domain.validate_model_name(name), order="number DESC"
    )


def mlflow_versions(
    ctx: Context, name: str
) -> tuple[dict[int, MlflowVersion], dict[int, list[str]]]:
    """A model's versions that are MLflow versions (by number here), and the MLflow aliases
    on each as last seen: read from the two tables alone, so a model's page never loads the
    MLflow bridge or waits on MLflow."""
    name = domain.validate_model_name(name)
    found = {m.number: m for m in ctx.store.rows(schema.MLFLOW_VERSIONS, model=name)}
    link = ctx.store.row(schema.MLFLOW_LINKS, model=name)
    aliases: dict[int, list[str]] = {}
    if link is not None:
        numbers = {
            m.mlflow_version: m.number
            for m in found.values()
            if m.registered_model == link.registered_model
        }
        for alias, there in sorted(link.aliases.items()):
            if there in numbers:
                aliases.setdefault(numbers[there], []).append(alias)
    return found, aliases


def history(
    ctx: Context,
    *,
    model: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 50,
    search: str | None = None,
) -> list[Event]:
    """Newest first. Asking for a model that never existed is an error, not an empty list.
    `search` keeps the events whose kind, actor, model or data (notes, reasons, refs) hold
    every one of its words, whatever their case ("when did we last see label leakage?")."""
    if model is not None:
        domain.validate_model_name(model)
    if limit is not None and limit < 0:
        raise InvalidInput("the limit must be 0 (no limit) or more")
    if search is not None:
        search = " ".join(search.split())
        if not search or any(not c.isprintable() for c in search):
            raise InvalidInput("a search needs a word or more, without control characters")
    events = ctx.store.history(
        model=model, actor=actor, since=since, until=until, limit=limit or None, search=search
    )
    if model is not None and not events and ctx.store.row(schema.EVENTS, model=model) is None:
        raise no_such("model", model, ctx.store.model_names(), cli="see `mlops model list`")
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
        if d.get("source") == "mlflow":
            text += " (from MLflow)"
    elif event.kind == domain.MODEL_EDITED:
        after = d.get("after") or {}
        text = "set " + ", ".join(f"{k} to {_shown(after.get(k))}" for k in d.get("fields", []))
    elif event.kind == domain.ROLE_SET:
        before = d.get("before") or "nobody"
        text = f"{d.get('role')}: {before} → {d.get('after')}"
        if d.get("handoff"):
            text += f" (handoff #{d['handoff']} accepted)"
    elif event.kind in _team.TEAM_KINDS:  # people, settings, handoffs
        text = _team.describe(event.kind, d)
    elif event.kind.startswith("build."):
        text = _describe_build(event.kind, d)
    elif event.kind.startswith("git."):
        text = _describe_git(event.kind[4:], d)
    elif event.kind.split(".")[0] in ("test", "deploy", "check", "alert"):
        text = _describe_loop(event.kind, d)
    elif event.kind.split(".")[0] in ("approval", "webhook", "gc"):
        text = _describe_registry(event.kind, d)
    elif event.kind.startswith("mlflow."):
        from mlops_tui.domain import mlflow

        text = mlflow.describe(event.kind, d)
    else:
        text = ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("note", "joined"))
    if d.get("note"):
        text += f": {d['note']}"
    if d.get("joined"):  # their first change (the team is open to join)
        text += f" ({event.actor} joined as {d['joined']})"
    return text


def _describe_build(kind: str, d: dict[str, Any]) -> str:
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


def _describe_git(op: str, d: dict[str, Any]) -> str:
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


def _describe_loop(kind: str, d: dict[str, Any]) -> str:
    """Test runs, deployments, health changes and alerts."""
    v = f"v{d.get('version')}"
    if kind == domain.TEST_STARTED:
        return f"test run #{d.get('test_run')} of {v} started"
    if kind == domain.TEST_RECORDED:
        return f"CI test run #{d.get('test_run')} of {v}" + (
            f" ({d['url']})" if d.get("url") else ""
        )
    if kind == domain.TEST_FINISHED:
        text = f"test run #{d.get('test_run')} of {v} {d.get('status')}"
        if d.get("passed") is not None:
            text += f" ({d['passed']} passed, {d.get('failed')} failed, {d.get('skipped')} skipped)"
        return text + (f": {d['error']}" if d.get("error") else "")
    if kind == domain.DEPLOY_STARTED:
        what = "rollback" if d.get("kind") == "rollback" else "deploy"
        return f"{what} #{d.get('deployment')} of {v} started ({d.get('target')})"
    if kind == domain.DEPLOY_FINISHED:
        what = "rollback" if d.get("kind") == "rollback" else "deploy"
        text = f"{what} #{d.get('deployment')} of {v} {d.get('status')}"
        if d.get("rolled_back"):
            text += ", previous container put back"
        return text + (f": {d['error']}" if d.get("error") else "")
    if kind == domain.CHECK_RAN:
        return f"health {d.get('before')} → {d.get('health')} (check #{d.get('check')}, {v})"
    if kind == domain.ALERT_OPENED:
        return f"alert #{d.get('alert')} opened: {d.get('detail')}"
    if kind == domain.ALERT_ACKED:
        return f"alert #{d.get('alert')} ({d.get('metric')}) acknowledged"
    if kind == domain.ALERT_RESOLVED:
        return f"alert #{d.get('alert')} ({d.get('metric')}) resolved"
    return kind


# -- approvals, webhooks, clean-up ---------------------------------------------------------
def _describe_registry(kind: str, d: dict[str, Any]) -> str:
    v = f"v{d.get('version')}"
    if kind == domain.APPROVAL_RULE:
        scope = "every model" if d.get("scope") == "all" else "this model"
        n = d.get("required")
        return f"{scope}: approval rule removed" if not n else f"{scope} needs {n} approval(s)"
    if kind == domain.APPROVAL_REQUESTED:
        return f"approval of {v} requested ({d.get('required')} needed)"
    if kind == domain.APPROVAL_GRANTED:
        return f"approved {v}"
    if kind == domain.APPROVAL_REJECTED:
        return f"rejected {v}"
    if kind == domain.WEBHOOK_ADDED:
        return (
            f"webhook #{d.get('webhook')} added: {d.get('url')} ({', '.join(d.get('events', []))})"
        )
    if kind == domain.WEBHOOK_REMOVED:
        return f"webhook #{d.get('webhook')} removed: {d.get('url')}"
    if kind == domain.GC_REMOVED:
        gone = [*d.get("images", []), *d.get("containers", [])]
        return f"clean-up removed {', '.join(gone)}"
    return ", ".join(f"{k}={val}" for k, val in d.items() if k != "note")
