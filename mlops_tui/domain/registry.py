"""The registry around the loop: approvals before production, webhooks and their outbox,
clean-up, and the audit chain that makes the history tamper-evident."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops_tui.errors import InvalidInput

# -- approvals, webhooks, clean-up ------------------------------------------------------------

APPROVAL_RULE = "approval.rule"  # a model (or the whole team, model None) now needs N approvals
APPROVAL_REQUESTED = "approval.requested"
APPROVAL_GRANTED = "approval.approved"
APPROVAL_REJECTED = "approval.rejected"
WEBHOOK_ADDED = "webhook.added"
WEBHOOK_REMOVED = "webhook.removed"
GC_REMOVED = "gc.removed"
#: the scope of a team-wide approval rule in the approval_rules table
ALL_MODELS = "*"
MAX_APPROVALS = 10


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    url: str
    #: event categories it receives (the part of the kind before the dot); empty: all
    categories: tuple[str, ...]
    secret_env: str | None
    created_at: datetime
    created_by: str
    #: id of the newest event already queued for it
    cursor: int

    def wants(self, kind: str) -> bool:
        return not self.categories or kind.split(".", 1)[0] in self.categories


@dataclass(frozen=True, slots=True)
class Delivery:
    """One (webhook, event) pair in the outbox, and how its delivery is going."""

    id: int
    webhook: int
    event: int
    kind: str
    status: str  # pending or delivered
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at POSTing one event (or a test ping, event None) to one webhook."""

    id: int
    webhook: int
    event: int | None
    kind: str
    at: datetime
    ok: bool
    code: int | None
    error: str | None
    seconds: float
    model: str | None = None  # the event's model, read with the attempt


#: an event category: the part of an event kind before the dot
_CATEGORY_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def parse_categories(text: str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """`stage,deploy,handoff` -> ('deploy', 'handoff', 'stage'); None, '' or 'all' -> ()."""
    if text is None or text.strip().lower() in ("", "all", "*"):
        return ()
    out: set[str] = set()
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if not _CATEGORY_RE.fullmatch(part) or part not in known:
            raise InvalidInput(f"unknown event category {part!r}: choose from {', '.join(known)}")
        out.add(part)
    return tuple(sorted(out))


# -- the audit chain -------------------------------------------------------------------------

CHAIN_GENESIS = "0" * 64


def _canon(value: Any) -> Any:
    """JSON values as both databases give them back: PostgreSQL's JSONB turns 1e20 into an
    integer, so integral floats count as integers; keys are strings, tuples are lists."""
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def chain_hash(
    prev: str,
    id: int,
    at: datetime,
    actor: str,
    model: str | None,
    kind: str,
    data: dict[str, Any],
) -> str:
    """The audit chain: an event's hash covers its content and the previous event's hash, so
    editing, removing or slipping in an event breaks every hash after it."""
    import hashlib
    import json
    from datetime import UTC

    body = json.dumps(
        {
            "id": int(id),
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "model": model,
            "kind": kind,
            "data": _canon(data),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()
