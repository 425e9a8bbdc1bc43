"""A handoff's checklist, each item ticked ☑ or not ☐ so the two read apart at a glance
(and without colour).

Ticking shows at once; the inbox writes it and the next read confirms it. The screen binds
space, so it ticks the highlighted item wherever the focus is in the inbox; enter and a
click tick here too.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from mlops_tui.domain import Handoff

TICKED = "☑"
UNTICKED = "☐"


def item_label(item: str, done: bool) -> Text:
    if done:
        return Text.assemble((f"{TICKED} ", "bold green"), (item, "dim"))
    return Text.assemble((f"{UNTICKED} ", "bold"), item)


class Checklist(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]
    DEFAULT_CSS = """
    Checklist { height: auto; max-height: 12; border: round $primary-background-lighten-2; }
    """

    class Toggled(Message):
        """The user ticked (`done`) or unticked `item` of handoff `handoff_id`."""

        def __init__(self, handoff_id: int, item: str, done: bool) -> None:
            super().__init__()
            self.handoff_id = handoff_id
            self.item = item
            self.done = done

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.handoff_id: int | None = None
        self.items: dict[str, bool] = {}

    @property
    def unticked(self) -> list[str]:
        """What is left to tick, as shown (a tick just made counts before it is stored)."""
        return [item for item, done in self.items.items() if not done]

    def show(self, handoff: Handoff | None) -> None:
        """Rebuild from a Handoff, keeping the highlighted item; None empties it."""
        keep = self.highlighted
        self.clear_options()
        self.handoff_id = handoff.id if handoff is not None else None
        self.items = {c.item: c.done for c in handoff.checklist} if handoff else {}
        if handoff is None:
            self.border_title = "Checklist"
            return
        self.border_title = f"Checklist of #{handoff.id} ({handoff.model})"
        self.add_options([Option(item_label(i, d), id=i) for i, d in self.items.items()])
        if self.option_count:
            self.highlighted = min(keep or 0, self.option_count - 1)

    def toggle(self) -> bool:
        """Tick or untick the highlighted item; False when there is none to tick."""
        index = self.highlighted
        if self.handoff_id is None or index is None:
            return False
        item = self.get_option_at_index(index).id
        if item is None or item not in self.items:
            return False
        done = self.items[item] = not self.items[item]
        self.replace_option_prompt_at_index(index, item_label(item, done))
        self.post_message(self.Toggled(self.handoff_id, item, done))
        return True

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.toggle()
