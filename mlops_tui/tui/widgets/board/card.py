"""One model on the board: what a person scans for (name, owner, versions, health), one
line each, cut to the card's width as it is now.

A column is a fifth of the terminal, so at 80 columns a card has about a dozen cells: a
name loses its middle rather than its end (`churn…or-eu` stays apart from
`churn…ictor`), versions take their shorter wording, and an orphaned flag that does not fit
beside its owner goes on a line of its own rather than being cut.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Static

from mlops_tui.domain import Health, Model
from mlops_tui.tui import labels
from mlops_tui.tui.colors import HEALTH_COLORS, STAGE_COLORS, health_text

ORPHANED = "orphaned"


def card_text(model: Model, orphaned: bool, width: int) -> Text:
    """The card's lines for `width` cells (None-like widths: as long as they come)."""
    width = max(width, 1)
    lines = [Text(labels.middle(model.name, width), style="bold")]
    owner = Text(model.owner, style="italic")
    flag = Text(ORPHANED, style=f"bold {HEALTH_COLORS[Health.CRITICAL]}")  # the owner left
    if orphaned and cell_len(f"{model.owner} {ORPHANED}") <= width:
        lines.append(Text.assemble(owner, " ", flag))
    else:
        lines.append(labels.fit_text(owner, width, keep_end=True))
        if orphaned:
            lines.append(labels.fit_text(flag, width))
    lines.append(Text(labels.versions(model.version, model.production_version, width)))
    lines.append(labels.fit_text(health_text(model.health), width))
    return Text("\n").join(lines)


class ModelCard(Static, can_focus=True):
    """Focus is the board's selection: a click selects, a double-click opens."""

    DEFAULT_CSS = """
    ModelCard {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 0 0 1;
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

    def on_resize(self, event: events.Resize) -> None:
        self.show(self.model)

    @property
    def orphaned(self) -> bool:
        return self.model.owner in getattr(getattr(self.app, "snapshot", None), "left", ())

    def show(self, model: Model) -> None:
        if model.stage != self.model.stage:
            self.styles.border_left = ("outer", STAGE_COLORS[model.stage])
        self.model = model
        # Not laid out yet: a generous width, redrawn by the first resize.
        width = self.content_size.width or 40
        self.update(card_text(model, self.orphaned, width))

    def on_click(self, event: events.Click) -> None:
        if event.chain >= 2:
            self.post_message(self.Opened(self))
