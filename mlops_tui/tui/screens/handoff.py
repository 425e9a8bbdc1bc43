"""Handing the selected model to someone: pick who, say what they should know.

Ownership does not change here: the receiver accepts in their inbox (4) after working
through the checklist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mlops_tui.domain import Handoff, Model, User
from mlops_tui.errors import MlopsError

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp


class PeopleList(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class HandoffScreen(ModalScreen[Handoff]):
    """Dismissed with the new Handoff, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    HandoffScreen { align: center middle; }
    HandoffScreen > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; border-title-style: bold; background: $surface; padding: 0 1;
    }
    HandoffScreen PeopleList { height: auto; max-height: 10; margin: 1 0 0 0; }
    HandoffScreen #handoff-keys { color: $text-muted; }
    """

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.model = model

    @property
    def mlops(self) -> MlopsApp:
        return cast("MlopsApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Hand over {self.model.name}"
            yield Static(
                Text.assemble("Owner now: ", (self.model.owner, "bold"), ". Who takes over?")
            )
            yield PeopleList(id="people")
            yield Input(placeholder="note: what they should know (optional)", id="handoff-note")
            yield Static(
                "enter: offer · tab: note · escape: cancel · they accept in their inbox",
                id="handoff-keys",
            )

    def on_mount(self) -> None:
        self.query_one(PeopleList).focus()
        self.load()

    @work(thread=True, exclusive=True, group="handoff-people")
    def load(self) -> None:
        try:
            people = self.mlops.backend.receivers()
        except MlopsError as exc:
            self.mlops.call_from_thread(self.mlops.show_error, exc)
            return
        self.mlops.call_from_thread(self._people, people)

    def _people(self, people: list[User]) -> None:
        options = self.query_one(PeopleList)
        options.clear_options()
        for user in people:
            if user.name == self.model.owner:
                continue
            label = Text(f"{user.name:<16}", style="bold")
            label.append(str(user.role), style="dim")
            if user.name == self.model.backup:
                label.append("  backup", style="italic")
            options.add_option(Option(label, id=user.name))
        if options.option_count:
            options.highlighted = 0

    @property
    def receiver(self) -> str | None:
        options = self.query_one(PeopleList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(OptionList.OptionSelected)
    @on(Input.Submitted, "#handoff-note")
    def submit(self) -> None:
        to = self.receiver
        if to is None:
            self.app.notify("Pick who takes over", severity="warning")
            return
        note = self.query_one("#handoff-note", Input).value.strip() or None
        self.send(to, note)

    @work(thread=True, exclusive=True, group="handoff-send")
    def send(self, to: str, note: str | None) -> None:
        try:
            handoff = self.mlops.backend.hand_over(self.model.name, to, note)
        except MlopsError as exc:
            self.mlops.call_from_thread(self.mlops.show_error, exc)
        else:
            self.mlops.call_from_thread(self.dismiss, handoff)

    def action_cancel(self) -> None:
        self.dismiss(None)
