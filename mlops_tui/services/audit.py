"""Checking the audit chain: is the history exactly what the tool wrote?

Each event's hash covers its content and the previous event's hash, so an edit, a removal
or an event slipped in behind the tool's back breaks the chain at that point. The first
break is reported with the event's id and time; everything before it is intact.

A chain can be rebuilt whole by someone who rewrites every hash after the edit; keep the
head hash (`mlops audit verify` prints it) somewhere else to catch that too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops_tui.domain import CHAIN_GENESIS, chain_hash
from mlops_tui.services.context import Context


@dataclass(frozen=True, slots=True)
class Break:
    """Where the chain first breaks, and what most likely happened there."""

    id: int
    at: datetime | None
    problem: str  # "edited", "deleted", "inserted"
    detail: str


@dataclass(frozen=True, slots=True)
class Verdict:
    events: int
    head: str  # the newest event's hash, to compare with a copy kept elsewhere
    first_bad: Break | None

    @property
    def intact(self) -> bool:
        return self.first_bad is None


def check(rows: Iterable[tuple[Any, ...]]) -> Verdict:
    """Walk (id, at, actor, model, kind, data, prev_hash, hash) rows oldest first."""
    expected_prev = CHAIN_GENESIS
    last_id = 0
    count = 0
    for id_, at, actor, model, kind, data, prev, digest in rows:
        count += 1
        if digest is None or prev is None:
            return Verdict(
                count,
                expected_prev,
                Break(id_, at, "inserted", "it has no hash: it was written behind the tool's back"),
            )
        if chain_hash(prev, id_, at, actor, model, kind, data) != digest:
            return Verdict(
                count,
                expected_prev,
                Break(id_, at, "edited", "its content does not match its hash"),
            )
        if prev != expected_prev:
            if id_ > last_id + 1:
                missing = (
                    f"#{last_id + 1}" if id_ == last_id + 2 else f"#{last_id + 1} to #{id_ - 1}"
                )
                detail = f"the event before it is missing (deleted: {missing})"
                return Verdict(count, expected_prev, Break(id_, at, "deleted", detail))
            return Verdict(
                count,
                expected_prev,
                Break(
                    id_,
                    at,
                    "inserted",
                    f"it does not follow event #{last_id}: an event was slipped in or removed",
                ),
            )
        expected_prev = digest
        last_id = id_
    return Verdict(count, expected_prev, None)


def verify(ctx: Context) -> Verdict:
    return check(ctx.store.chain())  # type: ignore[attr-defined]


def check_rows(rows: list[dict[str, Any]]) -> None:
    """Give an import's events their place in the chain: check the hashes it carries, or
    compute them for an export made before the chain existed. Raises ValueError naming the
    first event that breaks it."""
    carried = [r for r in rows if r.get("hash") is not None]
    if not carried:
        prev = CHAIN_GENESIS
        for r in rows:
            r["prev_hash"] = prev
            r["hash"] = prev = chain_hash(
                prev,
                r["id"],
                datetime.fromisoformat(r["at"]),
                r["actor"],
                r["model"],
                r["kind"],
                r["data"],
            )
        return
    verdict = check(
        (
            r["id"],
            datetime.fromisoformat(r["at"]),
            r["actor"],
            r["model"],
            r["kind"],
            r["data"],
            r.get("prev_hash"),
            r.get("hash"),
        )
        for r in sorted(rows, key=lambda r: r["id"])
    )
    if verdict.first_bad is not None:
        bad = verdict.first_bad
        raise ValueError(f"event #{bad.id} breaks the audit chain ({bad.problem}: {bad.detail})")
