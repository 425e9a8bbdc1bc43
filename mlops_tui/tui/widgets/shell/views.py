"""The main views as one line under the header: where you are, and the number that takes
you elsewhere (as lazygit numbers its panels). The footer keeps its room for the keys of
the screen itself, so it still fits 80 columns."""

from __future__ import annotations

from textual.widgets import Static

#: (key, mode, label), in the order of their number keys
VIEWS: tuple[tuple[str, str, str], ...] = (
    ("1", "board", "Board"),
    ("2", "models", "Models"),
    ("3", "oncall", "On-call"),
    ("4", "inbox", "Inbox"),
    ("5", "alerts", "Alerts"),
)


def markup(current: str) -> str:
    """The current view reversed; the others clickable, as their number key is."""
    parts = []
    for key, mode, label in VIEWS:
        if mode == current:
            parts.append(f"[reverse b] {key} {label} [/]")
        else:
            parts.append(f"[@click=app.switch_mode('{mode}')] [b $accent]{key}[/] {label} [/]")
    return "  ".join(parts)


class ViewBar(Static):
    DEFAULT_CSS = """
    ViewBar { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__(markup(current))
