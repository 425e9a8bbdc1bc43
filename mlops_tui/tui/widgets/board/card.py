"""One model on the board: what a person scans for (name, owner, versions, health)."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Static

from mlops_tui.domain import Model
from mlops_tui.tui.colors import STAGE_COLORS, health_text, version


class ModelCard(Static, can_focus=True):
    """Focus is the board's selection: a click selects, a double-click opens."""

    DEFAULT_CSS = """
    ModelCard {
        height: 3;
        margin: 0 0 1 0;
        padding: 0 1;
        background: $surface;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ModelCard:hover { background: $surface-lighten-1; }
    ModelCard:focus { background: $block-cursor-blurred-background; text-style: none; }
    """

    class Opened(Message):
        def __init__(self, card: ModelCard) -> None:
            super().__init__()
            self.card = card

    def __init__(self, model: Model) -> None:
        super().__init__(name=model.name)
        self.model = model
        self.styles.border_left = ("outer", STAGE_COLORS[model.stage])

    def on_mount(self) -> None:
        self.show(self.model)

    def show(self, model: Model) -> None:
        if model.stage != self.model.stage:
            self.styles.border_left = ("outer", STAGE_COLORS[model.stage])
        self.model = model
        text = Text(model.name, style="bold", no_wrap=True, overflow="ellipsis")
        text.append("\n")
        text.append(model.owner, style="italic")
        if model.owner in getattr(getattr(self.app, "snapshot", None), "left", ()):
            text.append(" orphaned", style="bold #e8505b")  # the owner left
        text.append(f"  {version(model.version)}/{version(model.production_version)}")
        text.append("\n")
        text.append_text(health_text(model.health))
        self.update(text)

    def on_click(self, event: events.Click) -> None:
        if event.chain >= 2:
            self.post_message(self.Opened(self))
