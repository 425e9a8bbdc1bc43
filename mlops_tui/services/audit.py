"""Checking the audit chain: is the history exactly what the tool wrote?

Each event's hash covers its content and the previous event's hash, so an edit, a removal
or an event slipped in behind the tool's back breaks the chain at that point. The first
break is reported with the event's id and time; everything before it is intact.

The newest events have no successor to break, so each append also moves an anchor (the last
appended event's id and hash, and how many were appended) in the same transaction; a history
that ends before the anchor lost its newest events. On SQLite, the AUTOINCREMENT counter is
a second witness of the highest id ever handed out.

What none of this catches is a history rewritten whole, every hash and the anchor
recomputed: only a head kept outside the database (`mlops audit head`, compared with
`verify --expect`) does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from mlops_tui.domain import CHAIN_GENESIS, chain_hash
from mlops_tui.errors import ChainBroken, InvalidInput
from mlops_tui.services.context import Context


@dataclass(frozen=True, slots=True)
class Break:
    """Where the chain first breaks, and what most likely happened there."""

    id: int
    at: datetime | None
    problem: str  # "edited", "deleted", "inserted", "rewritten"
    detail: str
    #: found past the stored events (by the anchor, SQLite's id counter or a witnessed
    #: head) rather than at one of them: `detail` then names what is missing on its own
    tail: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    events: int
    head: str  # the newest event's hash, to compare with a copy kept elsewhere
    first_bad: Break | None
    head_id: int = 0  # the newest event's id; 0 for an empty history
    #: the stored hash where a witnessed head was looked for (its id, or a hash it begins)
    witnessed: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_bad is None


@dataclass(frozen=True, slots=True)
class Witness:
    """A head kept outside the database: the event id (None when only the hash was kept)
    and its hash, or the first 16 or more hex digits of it."""

    event: int | None
    hash: str

    @property
    def genesis(self) -> bool:
        """The head of an empty history: every history descends from it."""
        return self.event in (None, 0) and CHAIN_GENESIS.startswith(self.hash)

    def points_at(self, event: int, digest: str) -> bool:
        """Whether this is where the witness says its head was (by id when it has one)."""
        return event == self.event if self.event is not None else digest.startswith(self.hash)

    def label(self) -> str:
        return f"#{self.event} ({self.hash[:16]})" if self.event is not None else self.hash[:16]


@dataclass(frozen=True, slots=True)
class Head:
    """The newest event's id and hash: what a cron job posts somewhere the database's
    owners cannot rewrite."""

    event: int
    hash: str
    at: datetime | None
    events: int

    @property
    def text(self) -> str:
        """One line, no spaces: what `mlops audit verify --expect` takes back."""
        return f"{self.event}:{self.hash}"


_WITNESS = re.compile(r"(?:#?(\d{1,19})[:\s]\s*)?([0-9a-f]{16,64})")


def parse_witness(text: str) -> Witness:
    """Read what `mlops audit head` printed (ID:HASH) or a bare hash (all 64 hex digits, or
    the first 16 or more, as `audit verify` prints them). Raises InvalidInput."""
    found = _WITNESS.fullmatch(text.strip().lower())
    if found is None:
        raise InvalidInput(
            "a witnessed head is ID:HASH, as the audit head prints it, or a hash of at least "
            f"16 hex digits, not {text.strip()[:80]!r}"
        )
    event = None if found.group(1) is None else int(found.group(1))
    witness = Witness(event, found.group(2))
    if event == 0 and not witness.genesis:
        raise InvalidInput("a head at event 0 is the empty history, whose hash is all zeros")
    return witness


def check(rows: Iterable[tuple[Any, ...]], expect: Witness | None = None) -> Verdict:
    """Walk (id, at, actor, model, kind, data, prev_hash, hash) rows oldest first; note the
    stored hash where `expect` says its head was."""
    expected_prev = CHAIN_GENESIS
    last_id = 0
    count = 0
    witnessed: str | None = None
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
        if expect is not None and witnessed is None and expect.points_at(id_, digest):
            witnessed = digest
    return Verdict(count, expected_prev, None, last_id, witnessed)


def verify(ctx: Context, expect: Witness | None = None) -> Verdict:
    """The chain, then its end against the anchor and SQLite's id counter, then (when given)
    a head kept elsewhere: the first thing found wrong is the verdict's `first_bad`."""
    with ctx.store.chain_snapshot() as (anchor, sequence, rows):
        verdict = check(rows, expect)
    if not verdict.intact:
        return verdict
    bad = (
        _against_anchor(verdict, anchor)
        or _against_sequence(verdict, sequence)
        or _against_witness(verdict, expect)
        or _against_checkpoints(ctx)
    )
    return verdict if bad is None else replace(verdict, first_bad=bad)


def _against_checkpoints(ctx: Context) -> Break | None:
    """Time travel's checkpoints are derived from the history but sit outside the chain:
    one that is not what the (intact) history replays to would make `status --at` lie."""
    from mlops_tui.services import checkpoints

    found = checkpoints.first_altered(ctx)
    if found is None:
        return None
    return Break(
        found.upto,
        None,
        "edited",
        f"the time-travel checkpoint after event #{found.upto} is not what the history "
        "replays to: it was changed behind the tool's back, so `status --at` could show a "
        "false past (the history itself is intact; delete the rows of the checkpoints "
        "table and the next change rebuilds them)",
        True,
    )


def _missing(first: int, last: int) -> str:
    return f"event #{first} is" if first == last else f"events #{first} to #{last} are"


def _newest_deleted(verdict: Verdict, last: int, how: str = "") -> Break:
    first = verdict.head_id + 1
    if verdict.events == 0:
        why = "every event was deleted"
    else:
        newest = "the newest event was" if first == last else "the newest events were"
        why = f"{newest} deleted (the {verdict.events} events before them are intact)"
    return Break(first, None, "deleted", f"{_missing(first, last)} missing: {why}{how}", True)


def _against_anchor(verdict: Verdict, anchor: tuple[int, str, int] | None) -> Break | None:
    """The anchor moves with every append, in the same transaction, and its trigger refuses
    to move it back: where the history ends elsewhere, events were removed or slipped in."""
    if anchor is None:
        return Break(
            verdict.head_id,
            None,
            "deleted",
            "the chain's anchor was deleted behind the tool's back, so removed newest events "
            "would not show: compare with a head kept elsewhere (verify --expect)",
            True,
        )
    event, digest, appended = anchor
    if verdict.head_id < event:
        return _newest_deleted(verdict, event)
    if verdict.head_id > event:
        return Break(
            event + 1,
            None,
            "inserted",
            f"{_missing(event + 1, verdict.head_id)} newer than the last event the tool "
            f"appended (#{event}): written behind the tool's back",
            True,
        )
    if verdict.head != digest:
        return Break(
            event,
            None,
            "rewritten",
            f"event #{event} is not the one the tool appended (its hash differs from the "
            "anchor's): the history was rewritten and its hashes recomputed",
            True,
        )
    if verdict.events != appended:
        return Break(
            event,
            None,
            "rewritten",
            f"the history holds {verdict.events} events but the tool appended {appended}: "
            "events were removed or slipped in and the hashes after them recomputed",
            True,
        )
    return None


def _against_sequence(verdict: Verdict, sequence: int | None) -> Break | None:
    """SQLite's AUTOINCREMENT counter keeps the highest id it ever handed out, and a rolled
    back append takes its step back: above the newest event, it saw deleted ones."""
    if sequence is None or sequence <= verdict.head_id:
        return None
    how = f"; SQLite's id counter reached #{sequence} and the anchor was moved back"
    return _newest_deleted(verdict, sequence, how)


def _against_witness(verdict: Verdict, expect: Witness | None) -> Break | None:
    """A head kept elsewhere must still be in the history with the same hash: the chain
    links each event to the one before, so the history then still leads through it."""
    if expect is None or expect.genesis:
        return None
    label = expect.label()
    if verdict.witnessed is None:
        if expect.event is None:
            detail = (
                f"no event has the witnessed head's hash {label}: the history that led to it "
                "was rewritten or deleted"
            )
        elif expect.event > verdict.head_id:
            end = f"#{verdict.head_id}" if verdict.head_id else "nothing"
            detail = (
                f"the witnessed head {label} is gone: the history ends at {end}, the newest "
                "events were deleted"
            )
        else:
            detail = f"the witnessed head {label} is gone: there is no event #{expect.event}"
        return Break(expect.event or 0, None, "deleted", detail, True)
    if not verdict.witnessed.startswith(expect.hash):
        return Break(
            expect.event or 0,
            None,
            "rewritten",
            f"event #{expect.event} is not the witnessed head {label} any more (its hash is "
            f"now {verdict.witnessed[:16]}): the history up to it was rewritten and its "
            "hashes recomputed",
            True,
        )
    return None


def head(ctx: Context) -> Head:
    """The newest event and its hash, once the anchor agrees: a head read from a history
    that already lost its newest events would witness the loss as if it were the truth."""
    anchor, last = ctx.store.chain_head()
    if anchor is None:
        raise ChainBroken(
            "audit chain broken: its anchor was deleted behind the tool's back",
            cli="run `mlops audit verify`",
        )
    event, digest, appended = anchor
    if last is None:
        if event == 0:
            return Head(0, CHAIN_GENESIS, None, 0)
        raise ChainBroken(
            f"audit chain broken: {_missing(1, event)} missing: every event was deleted",
            cli="run `mlops audit verify`",
        )
    last_id, at, last_hash = last
    if (last_id, last_hash) != (event, digest):
        raise ChainBroken(
            f"audit chain broken: the newest event, #{last_id}, is not the last one the tool "
            f"appended (#{event})",
            cli="run `mlops audit verify`",
        )
    return Head(last_id, digest, at, appended)


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
