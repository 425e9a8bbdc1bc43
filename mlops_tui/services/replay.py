"""Rebuild models' state from the history alone.

The history is the source of truth: replaying it must give the stored state. Tests use this
to prove no change was lost or doubled, and `status --at` will use it to answer what a model
looked like at any past moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops_tui.domain import (
    BUILD_FINISHED,
    MODEL_CREATED,
    MODEL_MOVED,
    ROLE_SET,
    Event,
)


def replay(events: Iterable[Event]) -> dict[str, dict[str, Any]]:
    """Each model's stage, roles and iteration after `events` (taken oldest first)."""
    state: dict[str, dict[str, Any]] = {}
    for e in sorted(events, key=lambda e: e.id):
        if e.model is None:
            continue
        d = e.data
        if e.kind == MODEL_CREATED:
            state[e.model] = {
                "stage": d["stage"],
                "owner": d["owner"],
                "backup": None,
                "oncall": None,
                "iteration": 1,
                "version": None,
                "updated_by": e.actor,
                "updated_at": e.at,
            }
            continue
        model = state.get(e.model)
        if model is None:
            continue
        if e.kind == MODEL_MOVED:
            model["stage"] = d["to"]
            if d.get("move") == "iteration":
                model["iteration"] = d["iteration"]
        elif e.kind == ROLE_SET:
            model[d["role"]] = d["after"]
        elif e.kind == BUILD_FINISHED and d.get("status") == "succeeded":
            model["version"] = d["version"]
        else:
            continue  # events that leave the model as it was (a build starting, failing…)
        model["updated_by"], model["updated_at"] = e.actor, e.at
    return state
