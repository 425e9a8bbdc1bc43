"""What every use case needs: the store, who is acting, and the time (injectable for the demo)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops_tui.domain import Event, NewEvent
from mlops_tui.store import Store


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    store: Store
    actor: str
    clock: Callable[[], datetime] = field(default=_now)

    def event(self, kind: str, model: str | None, **data: Any) -> NewEvent:
        # Someone never seen, admitted by the gate: their first change's event carries
        # `joined` and the store adds them as a user in the same transaction.
        grant = self.store.grants.current
        if grant is not None and grant.joined and grant.actor == self.actor:
            data["joined"] = grant.joined
        return NewEvent(at=self.clock(), actor=self.actor, model=model, kind=kind, data=data)

    def record(self, kind: str, model: str | None, **data: Any) -> Event:
        """Append an event that changes nothing else (a Git push, a refusal), in its own
        transaction under the grant in force."""
        with self.store.transaction() as tx:
            return tx.events.append(self.event(kind, model, **data))
