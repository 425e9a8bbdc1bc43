"""Rebuild models' state from the history alone.

The history is the source of truth: replaying it must give the stored state. Tests use this
to prove no change was lost or doubled, and `status --at` uses it to answer what a model
looked like at any past moment (from a checkpoint on: `services.checkpoints`).
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

#: the kinds `apply` reads; other events never change what status shows
REPLAYED_KINDS = (
    MODEL_CREATED,
    MODEL_MOVED,
    ROLE_SET,
    BUILD_FINISHED,
    "deploy.finished",
    "check.ran",
    "model.edited",
    "mlflow.imported",
    "mlflow.version",
)
#: a model's replayed state, field by field (a checkpoint keeps it in this order)
FIELDS = (
    "stage",
    "owner",
    "backup",
    "oncall",
    "iteration",
    "version",
    "production_version",
    "previous_production",
    "deployed_at",
    "health",
    "created_at",
    "updated_by",
    "updated_at",
)
#: the state's times, kept as ISO text in a checkpoint
TIMES = ("deployed_at", "created_at", "updated_at")


def replay(events: Iterable[Event]) -> dict[str, dict[str, Any]]:
    """Each model's stage, roles and iteration after `events` (taken oldest first)."""
    state: dict[str, dict[str, Any]] = {}
    for e in sorted(events, key=lambda e: e.id):
        apply(state, e)
    return state


def apply(state: dict[str, dict[str, Any]], e: Event) -> None:
    """Apply one event to `state` in place (events must come oldest first)."""
    if e.model is None:
        return
    d = e.data
    if e.kind == MODEL_CREATED:
        state[e.model] = {
            "stage": d["stage"],
            "owner": d["owner"],
            "backup": None,
            "oncall": None,
            "iteration": 1,
            "version": None,
            "production_version": None,
            "previous_production": None,
            "deployed_at": None,
            "health": "unknown",
            "created_at": e.at,
            "updated_by": e.actor,
            "updated_at": e.at,
        }
        return
    model = state.get(e.model)
    if model is None:
        return
    if e.kind == MODEL_MOVED:
        model["stage"] = d["to"]
        if d.get("move") == "iteration":
            model["iteration"] = d["iteration"]
    elif e.kind == ROLE_SET:
        model[d["role"]] = d["after"]
        if d.get("backup_cleared"):  # an accepted handoff to the backup
            model["backup"] = None
    elif e.kind == BUILD_FINISHED and d.get("status") == "succeeded":
        model["version"] = d["version"]
    elif not _apply_later_kinds(model, e):
        return  # events that leave the model as it was (a build starting, failing…)
    model["updated_by"], model["updated_at"] = e.actor, e.at


# -- the loop's evidence, so `status --at` sees deploys and health -------------------------
_DEPLOYED = ("deploy.finished",)  # rollbacks too, with kind=rollback


def _apply_later_kinds(model: dict[str, Any], e: Event) -> bool:
    """Apply a deploy (or rollback) or a health check; False for events that leave
    the model as it was (the caller then keeps its last-changed time)."""
    d = e.data
    if e.kind in _DEPLOYED:
        if d.get("status") != "succeeded" or d.get("version") is None:
            return False
        if model["production_version"] != d["version"]:
            model["previous_production"] = model["production_version"]
        model["production_version"] = d["version"]
        model["deployed_at"] = e.at  # its monitoring clock starts (staleness)
        return True
    if e.kind == "mlflow.version":  # a version registered in MLflow: the newest is candidate
        if model["version"] is not None and d["version"] <= model["version"]:
            return False
        model["version"] = d["version"]
        return True
    if e.kind == "mlflow.imported":  # production as MLflow's alias named it
        model["production_version"] = d.get("production_version")
        model["deployed_at"] = e.at if d.get("production_version") is not None else None
        return True
    if e.kind == "check.ran":
        health = d.get("health")
        if health is None or health == model["health"]:
            return False
        model["health"] = health
        return True
    # An accepted handoff is an owner.set event: replayed above. An edit changes
    # only facts status does not show (repo, description, tags), but it is a change.
    return e.kind == "model.edited"
