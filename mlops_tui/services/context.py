"""What every use case needs: the store, who is acting, and the time (injectable for the demo)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops_tui.domain import NewEvent
from mlops_tui.store import Store


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    store: Store
    actor: str
    clock: Callable[[], datetime] = field(default=_now)
    #: set by services.team.authorize for someone never seen: their first change's event
    #: carries `joined` and the store adds them as a user in the same transaction
    join_as: str | None = None

    def event(self, kind: str, model: str | None, **data: Any) -> NewEvent:
        if self.join_as:
            data["joined"] = self.join_as
        return NewEvent(at=self.clock(), actor=self.actor, model=model, kind=kind, data=data)
