"""Checkpoints: every model's replayed state, kept every so many events, so `status --at`
replays only the events after the newest checkpoint that lies wholly before the moment asked
for, not the whole history (200,000 events take seconds to replay; a tail, milliseconds).

A checkpoint is derived from the history and never the source of truth: it holds the state
after event `upto` and the latest time among the events folded in (`max_at`). The history's
times need not rise with its ids (an imported history, a writer whose clock is behind), so a
checkpoint serves a moment only when `max_at` is at or before it; the tail is then the events
after `upto` up to that moment, and the answer is exactly the full replay's.

Checkpoints are made after a write, outside its transaction, once `EVERY` events (or as many
as there are models, if more: a checkpoint's size grows with them, so they stay a small part
of the database) have been appended since the last one; and after an import, for the whole
history at once. Making one is bookkeeping (no event, anyone's write may trigger it) and a
failure there never fails the change that triggered it: the next write tries again, and
until then the tail is longer. When replay's rules change, `FORMAT` moves on and older
checkpoints are simply not read.

A checkpoint sits outside the audit chain, so `mlops audit verify` replays the history and
checks every checkpoint against it (`first_altered`): one changed behind the tool's back,
which would make `status --at` show a false past, is reported like a broken chain.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from typing import Any

from mlops_tui.services.context import Context
from mlops_tui.services.replay import FIELDS, REPLAYED_KINDS, TIMES, apply
from mlops_tui.store import Checkpoint, schema

#: events between checkpoints, at least: the longest tail `status --at` replays (tens of ms)
EVERY = 5_000
#: the format of a checkpoint's state; a change to replay's rules or FIELDS moves it on
FORMAT = 1

State = dict[str, dict[str, Any]]


def state_at(ctx: Context, at: datetime) -> State:
    """Every model's replayed state at `at` (events at that very instant included)."""
    found = ctx.store.checkpoint(FORMAT, until=at)
    state = decode(found.state) if found else {}
    after = found.upto if found else 0
    for event in ctx.store.replay_events(after=after, until=at, kinds=REPLAYED_KINDS):
        apply(state, event)
    return state


def keep(ctx: Context, every: int | None = None) -> int:
    """Make the checkpoints that are due (`every` events apart at least; EVERY when None);
    returns how many. Never raises MlopsError: the write that called it has committed."""
    every = every or EVERY
    try:
        head, upto, models = ctx.store.checkpoint_lag(FORMAT)
        if head - upto < max(every, models):
            return 0
        return _catch_up(ctx, head, every)
    except Exception:  # a driver's error too: a checkpoint is a shortcut, the change stands
        return 0


def _catch_up(ctx: Context, head: int, every: int) -> int:
    from mlops_tui.services import gate

    latest = ctx.store.checkpoint(FORMAT)
    state = decode(latest.state) if latest else {}
    upto, max_at = (latest.upto, latest.max_at) if latest else (0, None)
    made = 0
    while head - upto >= (step := max(every, len(state))):
        end = upto + step
        for event in ctx.store.replay_events(after=upto, upto=end, kinds=REPLAYED_KINDS):
            apply(state, event)
            if max_at is None or event.at > max_at:
                max_at = event.at
        upto = end
        row = {
            "upto": upto,
            "replay": FORMAT,
            "max_at": max_at,
            "models": len(state),
            "state": encode(state),
        }
        with gate.bookkeeping(ctx), ctx.store.transaction() as tx:
            tx.rows(schema.CHECKPOINTS).upsert(row, ["replay", "upto"], ignore=True)
        made += 1
    return made


def first_altered(ctx: Context) -> Checkpoint | None:
    """The first checkpoint that is not what replaying the history gives, or None."""
    state: State = {}
    upto, max_at = 0, None
    for found in ctx.store.checkpoints(FORMAT):
        for event in ctx.store.replay_events(after=upto, upto=found.upto, kinds=REPLAYED_KINDS):
            apply(state, event)
            if max_at is None or event.at > max_at:
                max_at = event.at
        upto = found.upto
        try:
            kept = decode(found.state)
        except (ValueError, TypeError, KeyError, zlib.error):
            return found
        if (kept, found.max_at, found.models) != (state, max_at, len(state)):
            return found
    return None


def encode(state: State) -> bytes:
    """A state as compressed JSON: each model's FIELDS in order, times as ISO text (a
    quarter of the JSON's size, and a few ms to unpack)."""
    rows = {}
    for name, model in state.items():
        row = [model[f] for f in FIELDS]
        for i, f in enumerate(FIELDS):
            if f in TIMES and row[i] is not None:
                row[i] = row[i].isoformat()
        rows[name] = row
    return zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 1)


_TIME_AT = tuple(i for i, f in enumerate(FIELDS) if f in TIMES)


def decode(data: bytes) -> State:
    state: State = {}
    parse = datetime.fromisoformat
    for name, row in json.loads(zlib.decompress(data)).items():
        for i in _TIME_AT:
            if row[i] is not None:
                row[i] = parse(row[i])
        state[name] = dict(zip(FIELDS, row, strict=True))
    return state
