"""A titled box: the detail screen's sections all look alike."""

from __future__ import annotations

from textual.widgets import Static


class Panel(Static):
    DEFAULT_CSS = """
    Panel {
        border: round $primary-background-lighten-2;
        border-title-color: $text-accent;
        border-title-style: bold;
        padding: 0 1;
        height: auto;
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
