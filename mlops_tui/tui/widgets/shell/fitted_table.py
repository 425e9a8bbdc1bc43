"""Tables that fit the terminal: their key columns get the room they need, the others
shrink, then go, as the terminal narrows.

A DataTable sizes every column to its longest cell and lets the last ones run off the
right edge, so at 120 columns the column that matters most (why a model needs attention,
whose model it is) can be the one cut. Here each column says how much it matters and how
narrow it may get; `fit` shares the width out by that, and `FittedTable` redraws its cells
cut to the widths (names lose their middle, prose its end) whenever its size changes.
The models table draws its own rows for speed but shares `fit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable

from mlops_tui.tui.labels import fit_text

Cell = str | Text


@dataclass(frozen=True, slots=True)
class Fit:
    """One column: its label, and how it gives way when the room runs out."""

    label: str
    #: how much it matters, 0 the most: room goes to rank 0 before rank 1, and the highest
    #: rank is the first hidden
    rank: int = 1
    #: the narrowest it may become; None: its whole content (a key column, never cut)
    least: int | None = 4
    #: the widest it may become, however long its cells
    most: int | None = None
    #: cut in the middle (names that share a prefix) rather than at the end (prose)
    middle: bool = False
    #: a column that may not be hidden: shrunk to what is left instead
    keep: bool = False


def natural(fit: Fit, cells: Sequence[Cell]) -> int:
    """The width a column would take with room to spare: its longest cell or label."""
    widest = max([cell_len(fit.label), *(cell_len(_plain(c)) for c in cells)])
    return min(widest, fit.most) if fit.most is not None else widest


def fit(columns: Sequence[Fit], naturals: Sequence[int], room: int, gap: int = 2) -> list[int]:
    """The width of each column (0: hidden) so that all shown ones, each with `gap` cells
    around it, take at most `room` cells.

    Every column is first given its least width, most important first, while there is
    room (a column that does not get it is hidden, unless it is kept); then what is left
    grows them towards their natural width, most important first. A column stays only
    while every more important one is whole: otherwise the least important one goes, and
    the room is shared out again.
    """
    shown = set(range(len(columns)))
    while True:
        widths = _share(columns, naturals, room, gap, shown)
        cut = [i for i in shown if widths[i] < naturals[i]]
        if not cut:
            return widths
        most_important_cut = min(columns[i].rank for i in cut)
        less = [
            i
            for i in shown
            if widths[i] and columns[i].rank > most_important_cut and not columns[i].keep
        ]
        if not less:
            return widths
        shown.discard(max(less, key=lambda i: (columns[i].rank, i)))


def _share(
    columns: Sequence[Fit], naturals: Sequence[int], room: int, gap: int, shown: set[int]
) -> list[int]:
    order = sorted(shown, key=lambda i: (columns[i].rank, i))
    widths = [0] * len(columns)
    left = room
    for i in order:
        column = columns[i]
        least = naturals[i] if column.least is None else min(column.least, naturals[i])
        least = max(least, 1)
        if least + gap <= left:
            widths[i] = least
            left -= least + gap
        elif column.keep and left > gap:
            widths[i] = left - gap
            left = 0
    for i in order:
        grow = min(naturals[i] - widths[i], left)
        if widths[i] and grow > 0:
            widths[i] += grow
            left -= grow
    return widths


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def cut(cell: Cell, width: int, middle: bool) -> Text:
    """A cell in `width` cells: as it is when it fits, else with an ellipsis."""
    text = cell if isinstance(cell, Text) else Text(cell)
    return fit_text(text, width, keep_end=middle)


class FittedTable(DataTable[Text]):
    """A DataTable of whole rows at a time (`show`), its columns fitted to its width.

    It keeps the rows as given and rebuilds its cells when its width changes, keeping the
    cursor on the same row.
    """

    def __init__(self, *columns: Fit, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.fits = columns
        self._rows: list[Sequence[Cell]] = []
        self._keys: list[str | None] = []
        self._widths: list[int] | None = None

    def on_mount(self) -> None:
        self._render_rows()

    def on_resize(self, event: events.Resize) -> None:
        self._render_rows()

    def show(self, rows: Sequence[Sequence[Cell]], keys: Sequence[str] | None = None) -> None:
        """Replace the rows, the cursor staying at the same position (within the rows)."""
        self._rows = list(rows)
        self._keys = list(keys) if keys is not None else [None] * len(self._rows)
        self._render_rows(force=True)

    def _room(self) -> int:
        """The cells the columns may use: the width inside the borders, less a vertical
        scrollbar (kept back even when not shown, so rows arriving do not reflow it)."""
        width = self.content_region.width
        if width <= 0:
            return 10_000  # not laid out yet: everything at its natural width
        return width - self.styles.scrollbar_size_vertical

    def _render_rows(self, force: bool = False) -> None:
        if not self.is_mounted:
            return
        naturals = [natural(f, [r[i] for r in self._rows]) for i, f in enumerate(self.fits)]
        widths = fit(self.fits, naturals, self._room(), gap=2 * self.cell_padding)
        if widths == self._widths and not force:
            return
        columns_changed = widths != self._widths
        self._widths = widths
        keep = self.cursor_row
        shown = [i for i, w in enumerate(widths) if w]
        self.clear(columns=columns_changed)
        if columns_changed:
            for i in shown:
                label = cut(Text(self.fits[i].label), widths[i], middle=False)
                self.add_column(label, width=widths[i], key=str(i))
        for row, key in zip(self._rows, self._keys, strict=True):
            cells = [cut(row[i], widths[i], self.fits[i].middle) for i in shown]
            self.add_row(*cells, key=key)
        if self._rows:
            self.move_cursor(row=min(max(keep, 0), len(self._rows) - 1))
