"""A handoff's checklist: space ticks or unticks the highlighted item."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from mlops_tui.domain import Handoff


class Checklist(SelectionList[str]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]
    DEFAULT_CSS = """
    Checklist { height: auto; max-height: 12; border: round $primary-background-lighten-2; }
    """

    def show(self, handoff: Handoff | None) -> None:
        """Rebuild from a Handoff, keeping the highlighted item; None empties it."""
        keep = self.highlighted
        self.clear_options()
        if handoff is None:
            self.border_title = "Checklist"
            return
        self.border_title = f"Checklist of #{handoff.id} ({handoff.model})"
        self.add_options([Selection(c.item, c.item, c.done) for c in handoff.checklist])
        if self.option_count:
            self.highlighted = min(keep or 0, self.option_count - 1)
