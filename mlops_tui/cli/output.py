"""Plain, fast terminal output: aligned columns, colour only for a terminal without NO_COLOR.

Rich's Table takes seconds for 10,000 rows; `mlops status` prints in milliseconds, so the
hot paths format columns here and leave Rich to help screens.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from typing import Any

STAGE_COLOURS = {"plan": "34", "build": "35", "test": "33", "deploy": "36", "monitor": "32"}
HEALTH_COLOURS = {"ok": "32", "warn": "33", "critical": "1;31", "stale": "35", "unknown": "2"}


def use_colour() -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def width() -> int | None:
    """The width to fit: the terminal's, or $COLUMNS; None (no limit) when piped."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if sys.stdout.isatty():
        return shutil.get_terminal_size((100, 24)).columns
    return None


def paint(text: str, code: str | None, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(size - 1, 0)] + "…"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    shrink: Sequence[tuple[int, int]] = (),
    colours: Sequence[dict[str, str] | None] = (),
    gap: int = 2,
) -> str:
    """Aligned columns that fit the terminal.

    `shrink` lists (column, minimum width) in the order columns give up room when the table
    is too wide; `colours[i]` maps a cell's text to an SGR code for column i.
    """
    sizes = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > sizes[i]:
                sizes[i] = len(cell)
    limit = width()
    if limit is not None:
        excess = sum(sizes) + gap * (len(sizes) - 1) - limit
        for col, minimum in shrink:
            if excess <= 0:
                break
            give = min(excess, max(sizes[col] - minimum, 0))
            sizes[col] -= give
            excess -= give
    colour = use_colour()
    sep = " " * gap
    last = len(sizes) - 1
    palette = list(colours) + [None] * (len(sizes) - len(colours))

    def line(cells: Sequence[str], header: bool = False) -> str:
        out = []
        for i, cell in enumerate(cells):
            text = clip(cell, sizes[i])
            pad = "" if i == last else " " * (sizes[i] - len(text))
            codes = palette[i]
            code = "1" if header else (codes.get(cell) if codes else None)
            out.append(paint(text, code, colour) + pad)
        return sep.join(out).rstrip()

    lines = [line(headers, header=True)]
    lines.extend(line(r) for r in rows)
    return "\n".join(lines) + "\n"


def write(text: str) -> None:
    sys.stdout.write(text)


def info(text: str) -> None:
    """A remark for the person, kept off stdout so scripts can parse what is printed."""
    sys.stderr.write(text + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def record(obj: Any) -> dict[str, Any]:
    """A domain dataclass as a JSON-ready dict."""
    return {k: _plain(v) for k, v in asdict(obj).items()}


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=_plain) + "\n")


def version(v: int | None) -> str:
    return f"v{v}" if v is not None else "-"
