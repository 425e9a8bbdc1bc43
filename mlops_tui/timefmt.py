"""Reading the dates people type and writing times the way people read them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from mlops_tui.errors import InvalidInput

_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE = re.compile(r"(\d{1,6})\s*(min|m|h|d|w)(?:\s+ago)?")
# A date this close to datetime's own limits would overflow later, when it is shown in the
# local time zone (offsets are under a day) or a span is added to it: keep two days clear.
_MARGIN = timedelta(days=2)
EARLIEST = datetime.min.replace(tzinfo=UTC) + _MARGIN
LATEST = datetime.max.replace(tzinfo=UTC) - _MARGIN


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An ISO date or date-time (local time unless it has an offset), `today`, `yesterday`,
    or a span back from now such as `90m`, `12h`, `7d`, `2w`."""
    try:
        when = _parse_when(text, now or datetime.now(UTC))
    except OverflowError:  # `999999w`, or year 1 with a positive offset
        when = None
    if when is None or not EARLIEST <= when <= LATEST:
        raise InvalidInput(
            f"the date {text!r} is too far in the past or future: use one from "
            f"{EARLIEST.date()} to {LATEST.date()} (UTC)"
        )
    return when


def _parse_when(text: str, now: datetime) -> datetime | None:
    """The time `text` names, in UTC; None when it lies too near datetime's limits to be
    converted from local time (the platform's conversion fails there with ValueError)."""
    value = text.strip().lower()
    if value in ("now",):
        return now
    if value in ("today", "yesterday"):
        day = now.astimezone().date() - timedelta(days=1 if value == "yesterday" else 0)
        return datetime.combine(day, time()).astimezone().astimezone(UTC)
    if m := _RELATIVE.fullmatch(value):
        return now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"cannot read the date {text!r}: use 2026-05-01, 2026-05-01T14:30, "
            "today, yesterday, or a span such as 12h, 7d, 2w"
        ) from None
    if isinstance(parsed, date) and not isinstance(parsed, datetime):  # pragma: no cover
        parsed = datetime.combine(parsed, time())
    if parsed.tzinfo is None:
        if not EARLIEST.replace(tzinfo=None) <= parsed <= LATEST.replace(tzinfo=None):
            return None
        parsed = parsed.astimezone()  # the user's local time
    return parsed.astimezone(UTC)


def ago(then: datetime, now: datetime) -> str:
    """`just now`, `5m ago`, `3h ago`, `2d ago`, `4mo ago`, `1y ago`.

    Straight-line code: `mlops status` calls this once per model.
    """
    s = (now - then).total_seconds()
    if s < 45:
        return "just now"
    if s < 3600:
        return f"{max(1, int(s // 60))}m ago"
    if s < 86400:
        return f"{int(s // 3600)}h ago"
    if s < 2_592_000:
        return f"{int(s // 86400)}d ago"
    if s < 31_536_000:
        return f"{int(s // 2_592_000)}mo ago"
    return f"{int(s // 31_536_000)}y ago"


def local(dt: datetime) -> str:
    """`2026-05-01 14:30` in local time; isoformat pads the year, where strftime shows year 1
    as `1-01-03` on glibc."""
    return dt.astimezone().isoformat(" ", "minutes")[:16]
