"""What a write must carry to reach the database: a grant from the one gate.

The service layer's gate (`services.gate`) decides who may do what and hands out a Grant;
the store keeps the grants in force and refuses a write transaction that has none, an event
whose actor the grant does not name, an event of a model the grant was not checked for, or
an event of a kind the grant does not allow. A use case that forgot the gate therefore fails
the first time it runs, in every test that exercises it, instead of quietly letting anyone
write.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_tui.errors import UngatedWrite


@dataclass(eq=False, slots=True)
class Grant:
    """Permission for one use case, in force while the use case runs.

    `models` is None when the rule covers every model; otherwise only the models checked so
    far may be written, and `pending` stays true until the first one is. `kinds` limits the
    events it may append (an empty set: none, for bookkeeping such as the webhook relay).
    """

    actor: str
    action: str
    role: str | None = None
    joined: str | None = None
    models: set[str] | None = None
    kinds: frozenset[str] | None = None
    pending: bool = False

    def allows(self, actor: str, model: str | None, kind: str | None) -> str | None:
        """Why this grant does not cover the write, or None when it does."""
        if self.pending:
            return f"{self.action} was admitted but its model was never checked"
        if actor != self.actor:
            return f"an event by {actor!r} under a grant for {self.actor!r}"
        if kind is not None and self.kinds is not None and kind not in self.kinds:
            return f"a {kind} event under a grant for {self.action}"
        if kind is not None and self.models is not None and model not in self.models:
            return f"an event of {model!r} under a grant for {sorted(self.models)}"
        return None


class Grants:
    """The grants in force on one store, innermost last (a use case may run another)."""

    __slots__ = ("_stack",)

    def __init__(self) -> None:
        self._stack: list[Grant] = []

    def push(self, grant: Grant) -> None:
        self._stack.append(grant)

    def pop(self, grant: Grant) -> None:
        if self._stack and self._stack[-1] is grant:
            self._stack.pop()
        elif grant in self._stack:  # unwound out of order by an exception: drop it anyway
            self._stack.remove(grant)

    @property
    def current(self) -> Grant | None:
        return self._stack[-1] if self._stack else None

    def require(
        self, *, actor: str | None = None, model: str | None = None, kind: str | None = None
    ) -> Grant:
        """The grant in force, checked against the write about to happen; raises
        UngatedWrite when there is none or it does not cover this write."""
        grant = self.current
        if grant is None:
            raise UngatedWrite("a write without a grant from the gate")
        why = grant.allows(grant.actor if actor is None else actor, model, kind)
        if why:
            raise UngatedWrite(f"a write the gate did not allow: {why}")
        return grant
