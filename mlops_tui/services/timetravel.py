"""The state at any past moment, replayed from the append-only history.

Nothing is stored for this: the history already holds every change with its time and
author, so "what was in production last Tuesday" is the history up to then, replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mlops_tui import domain
from mlops_tui.domain import Event, Model, Stage
from mlops_tui.errors import InvalidInput, MlopsError, NotFound, no_such
from mlops_tui.services import checkpoints
from mlops_tui.services.context import Context
from mlops_tui.services.replay import REPLAYED_KINDS, apply, replay
from mlops_tui.store import StatusRow, schema


@dataclass(frozen=True)
class ModelAt:
    """A model as it was after one event of its history."""

    name: str
    event: Event
    state: dict[str, Any]

    def row(self) -> StatusRow:
        return _row(self.name, self.state)


def _row(name: str, s: dict[str, Any], stale: bool = False) -> StatusRow:
    # As `mlops status` reads it: a production model unchecked for too long is stale,
    # unless it is critical (the staleness rule of monitoring).
    health = "stale" if stale and s["health"] != "critical" else s["health"]
    return StatusRow(
        name,
        s["stage"],
        s["owner"],
        s["version"],
        s["production_version"],
        health,
        s["updated_at"],
        s["updated_by"],
    )


def _stale(ctx: Context, at: datetime, state: dict[str, dict[str, Any]]) -> set[str]:
    """Production models whose last sign of life (their deployment, or a check that got an
    answer) was longer ago than their [monitor].max_age at `at`."""
    serving = {n: s for n, s in state.items() if s["production_version"] is not None}
    if not serving:
        return set()
    answered = ctx.store.last_answered_checks(at)
    models = {m.name: m for m in ctx.store.list_models()}
    out = set()
    for name, s in serving.items():
        since = max((t for t in (s.get("deployed_at"), answered.get(name)) if t), default=None)
        if since is None or name not in models:
            continue
        if since + _max_age(ctx, models[name], s["production_version"]) <= at:
            out.add(name)
    return out


def _max_age(ctx: Context, model: Model, version: int) -> timedelta:
    """The version's [monitor].max_age, from its mlops.toml (24 h without one)."""
    from mlops_tui import modelconfig

    seconds = modelconfig.ModelConfig().monitor_max_age
    if model.repo and "://" not in model.repo and not model.repo.startswith("git@"):
        from mlops_tui.services import loopcfg

        try:
            v = ctx.store.row(schema.VERSIONS, model=model.name, number=version)
            if v is not None:
                seconds = loopcfg.config_of(model, v).monitor_max_age
        except MlopsError:
            pass  # the repository is gone: the default, as the checks themselves would use
    return timedelta(seconds=seconds)


def _when(at: datetime) -> str:
    from mlops_tui.timefmt import local

    return local(at)


def status_at(
    ctx: Context,
    at: datetime,
    *,
    name: str | None = None,
    stage: Stage | None = None,
    owner: str | None = None,
) -> list[StatusRow]:
    """The status table as it was at `at` (events at that very instant included).

    For one model that did not exist yet, raises NotFound saying when it was created. A
    moment in the future is refused: read as "now", a typo in a year would pass unnoticed.
    """
    now = ctx.clock()
    if at > now:
        raise InvalidInput(
            f"the date {_when(at)} is in the future (it is now {_when(now)}): time travel "
            "shows the past",
            cli="for now, `mlops status`",
        )
    if name is None:
        state = checkpoints.state_at(ctx, at)
    else:
        name = domain.validate_model_name(name)
        state = replay(ctx.store.replay_events(model=name, until=at, kinds=REPLAYED_KINDS))
    if name is not None and name not in state:
        created = ctx.store.replay_events(model=name, kinds=(domain.MODEL_CREATED,), limit=1)
        if not created:
            raise no_such("model", name, ctx.store.model_names(), cli="see `mlops model list`")
        first = created[0]
        raise NotFound(
            f"{name} did not exist yet at {_when(at)}: "
            f"{first.actor} created it at {_when(first.at)}"
        )
    stale = _stale(ctx, at, state)
    rows = [_row(n, s, n in stale) for n, s in sorted(state.items())]
    if stage is not None:
        rows = [r for r in rows if r.stage == str(stage)]
    if owner is not None:
        rows = [r for r in rows if r.owner == owner]
    return rows


def inactive_at(ctx: Context, at: datetime) -> set[str]:
    """Who had been deactivated by `at`: their models read as orphaned then."""
    left: set[str] = set()
    for e in ctx.store.replay_events(until=at, kinds=("user.changed",)):
        change, who = e.data.get("active"), e.data.get("user")
        if isinstance(change, dict) and "after" in change and isinstance(who, str):
            (left.discard if change["after"] else left.add)(who)
    return left


def first_event_at(ctx: Context) -> datetime | None:
    events = ctx.store.replay_events(kinds=(domain.MODEL_CREATED,), limit=1)
    return events[0].at if events else None


def timeline(ctx: Context, name: str) -> list[ModelAt]:
    """The model after each event of its history, oldest first: what the TUI scrubs."""
    name = domain.validate_model_name(name)
    events = ctx.store.replay_events(model=name)
    if not events:
        raise no_such("model", name, ctx.store.model_names(), cli="see `mlops model list`")
    out: list[ModelAt] = []
    state: dict[str, dict[str, Any]] = {}
    for e in events:
        apply(state, e)
        if name in state:
            out.append(ModelAt(name, e, dict(state[name])))
    return out


def model_state(ctx: Context, name: str, *, upto: int | None = None) -> dict[str, Any] | None:
    """The replayed state of one model after event `upto` (all of it when None)."""
    events = ctx.store.replay_events(model=name, upto=upto, kinds=REPLAYED_KINDS)
    return replay(events).get(name)
