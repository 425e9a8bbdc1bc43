"""Fitting words into the cells a narrow terminal leaves, without losing what tells them
apart.

Model names share prefixes (`churn-predictor`, `churn-predictor-eu`), so cutting the end
makes two models look like one: a name keeps its start and its end and loses the middle.
Everything here is pure and counts terminal cells, not characters, so a wide character
never pushes a column out of line.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

ELLIPSIS = "…"


def _head(text: str, cells: int) -> int:
    """How many characters from the start fit in `cells`."""
    used = 0
    for i, char in enumerate(text):
        used += cell_len(char)
        if used > cells:
            return i
    return len(text)


def _tail(text: str, cells: int) -> int:
    """How many characters from the end fit in `cells`."""
    return _head(text[::-1], cells)


def middle_cut(text: str, width: int) -> tuple[int, int] | None:
    """(characters kept from the start, from the end) to show `text` in `width` cells with
    an ellipsis between them, or None when it fits as it is. The end gets the odd cell: it
    is where names that share a prefix differ (`-eu`, `-v2`)."""
    if cell_len(text) <= width:
        return None
    if width <= 1:
        return (0, 0)
    room = width - cell_len(ELLIPSIS)
    head = room // 2
    return _head(text, head), _tail(text, room - head)


def middle(text: str, width: int) -> str:
    """`text` in at most `width` cells, its middle replaced by an ellipsis:
    `churn-predictor-eu` at 11 cells is `churn…or-eu`."""
    cut = middle_cut(text, width)
    if cut is None:
        return text
    head, tail = cut
    if width <= 0:
        return ""
    return text[:head] + ELLIPSIS + (text[len(text) - tail :] if tail else "")


def end(text: str, width: int) -> str:
    """`text` in at most `width` cells, its end replaced by an ellipsis: for prose (a note,
    a reason), whose start says the most."""
    if cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    return text[: _head(text, width - cell_len(ELLIPSIS))] + ELLIPSIS


def fit_text(text: Text, width: int, *, keep_end: bool = False) -> Text:
    """A styled `text` cut to `width` cells, its styles kept: the middle goes when
    `keep_end` (names), else the end (prose)."""
    plain = text.plain
    if cell_len(plain) <= width:
        return text
    if width <= 0:
        return Text("", style=text.style, end="")
    if keep_end:
        head, tail = middle_cut(plain, width) or (len(plain), 0)
        out = text[:head]
        out.append(ELLIPSIS)
        if tail:
            out.append_text(text[len(plain) - tail :])
        return out
    out = text[: _head(plain, width - cell_len(ELLIPSIS))]
    out.append(ELLIPSIS)
    return out


def versions(current: int | None, production: int | None, width: int | None = None) -> str:
    """What a card says about versions, in words a newcomer reads without a legend:
    `v3 · prod v2` (v3 is being worked on, v2 serves), `v3 · in prod`, `v3 · not in prod`,
    `no version yet`. Given a `width`, the shorter wording that fits is used."""
    if current is None and production is None:
        forms = ["no version yet", "no version", "none"]
    elif current is None:
        forms = [f"prod v{production}"]
    elif production is None:
        forms = [f"v{current} · not in prod", f"v{current} · no prod", f"v{current}"]
    elif production == current:
        forms = [f"v{current} · in prod", f"v{current} in prod", f"v{current}"]
    else:
        forms = [f"v{current} · prod v{production}", f"v{current} prod v{production}"]
    if width is None:
        return forms[0]
    for form in forms:
        if cell_len(form) <= width:
            return form
    return end(forms[-1], width)
