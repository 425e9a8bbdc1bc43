"""The loop itself: its stages and the rules for moving between them, the models that go
round it, and the history of what happened to them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from mlops_tui.domain.people import Role
from mlops_tui.errors import MoveRefused, unknown_choice


class Stage(StrEnum):
    PLAN = "plan"
    BUILD = "build"
    TEST = "test"
    DEPLOY = "deploy"
    MONITOR = "monitor"

    @property
    def position(self) -> int:
        """Where the stage sits in the loop: plan is 0, monitor 4. (Not `index`: a StrEnum
        is a str, and that name would hide `str.index`.)"""
        return STAGES.index(self)

    def next(self) -> Stage:
        """The stage one step forward; after monitor the loop starts again at plan."""
        return STAGES[(self.position + 1) % len(STAGES)]


STAGES: tuple[Stage, ...] = tuple(Stage)


class Health(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"
    STALE = "stale"


class MoveKind(StrEnum):
    FORWARD = "forward"
    ITERATION = "iteration"  # monitor -> plan: the loop starts again
    REWORK = "rework"  # back to an earlier stage
    FORCED = "forced"  # skipping ahead


def parse_stage(value: str) -> Stage:
    try:
        return Stage(value.strip().lower())
    except (ValueError, AttributeError):
        raise unknown_choice("stage", value, STAGES) from None


def classify_move(current: Stage, target: Stage, note: str | None, force: bool) -> MoveKind:
    """Decide what kind of move this is, or refuse it with the rule it breaks.

    Forward one step is always allowed (monitor -> plan starts a new iteration). Going back
    is rework and needs a note saying why. Skipping ahead must be forced, with a note, and is
    recorded as forced so that nobody mistakes it for a normal pass through the loop.
    """
    if current == target:
        raise MoveRefused(f"already in {target}")
    if target == current.next():
        return MoveKind.ITERATION if target == Stage.PLAN else MoveKind.FORWARD
    if target.position < current.position:
        if not note:
            raise MoveRefused(
                f"moving back from {current} to {target} is rework and needs a note saying why",
                cli="add --note TEXT",
            )
        return MoveKind.REWORK
    if not force:
        raise MoveRefused(
            f"{current} → {target} skips {_skipped(current, target)}: "
            f"the next stage is {current.next()}",
            cli="to skip anyway, add --force --note TEXT",
            tui="to skip anyway, force the move and say why",
        )
    if not note:
        raise MoveRefused(
            f"a forced move from {current} to {target} needs a note saying why",
            cli="add --note TEXT",
        )
    return MoveKind.FORCED


def _skipped(current: Stage, target: Stage) -> str:
    return ", ".join(s for s in STAGES[current.position + 1 : target.position])


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    stage: Stage
    owner: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    description: str = ""
    repo: str | None = None
    tags: list[str] = field(default_factory=list)
    iteration: int = 1
    backup: str | None = None
    oncall: str | None = None
    version: int | None = None
    production_version: int | None = None
    health: Health = Health.UNKNOWN
    revision: int = 1

    def holder(self, role: Role) -> str | None:
        return {Role.OWNER: self.owner, Role.BACKUP: self.backup, Role.ONCALL: self.oncall}[role]


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the append-only history."""

    id: int
    at: datetime
    actor: str
    model: str | None
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewEvent:
    at: datetime
    actor: str
    model: str | None
    kind: str
    data: dict[str, Any]

    def add(self, **data: Any) -> NewEvent:
        """The same event with more data (an id the change was given, say): a copy, so an
        attempt that rolls back leaves the caller's event as it was for the next one."""
        return replace(self, data={**self.data, **data})

    def without(self, key: str) -> NewEvent:
        return replace(self, data={k: v for k, v in self.data.items() if k != key})


# Event kinds. The part before the dot is the category that filters and webhooks use.
MODEL_CREATED = "model.created"
MODEL_MOVED = "stage.moved"
ROLE_SET = "owner.set"
MODEL_EDITED = "model.edited"  # repo, description or tags changed
