"""What changed on a model since its owner last looked at it (at the detail screen, or at
the model on the command line), so an owner back from leave sees exactly what they missed."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mlops_tui.errors import MlopsError
from mlops_tui.timefmt import ago, local
from mlops_tui.tui.backend import Changes

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp


class ChangesScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,c,q", "close", "Close")]
    DEFAULT_CSS = """
    ChangesScreen { align: center middle; }
    ChangesScreen > Vertical {
        width: 100; max-width: 100%; height: auto; max-height: 90%;
        border: thick $accent; border-title-style: bold; background: $surface; padding: 0 1;
    }
    ChangesScreen VerticalScroll { height: auto; max-height: 30; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Changes to {self.model_name} since its owner last looked"
            yield Static("…", id="changes-summary")
            with VerticalScroll():
                yield Static(id="changes-list")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="changes")
    def load(self) -> None:
        app = cast("MlopsApp", self.app)
        try:
            found = app.backend.changes(self.model_name)
        except MlopsError as exc:
            app.call_from_thread(app.show_error, exc)
            return
        app.call_from_thread(self._show, found)

    def _show(self, changes: Changes) -> None:
        model, seen, events = changes.model, changes.seen, changes.events
        now = cast("MlopsApp", self.app).now()
        if seen is None:
            summary = Text(f"{model.owner} has never opened {model.name} here: ", style="italic")
        else:
            summary = Text(f"{model.owner} last looked {ago(seen[0], now)} ({local(seen[0])}): ")
        summary.append(
            f"{len(events)} change{'s' if len(events) != 1 else ''} since"
            if events
            else "nothing changed since",
            style="bold",
        )
        self.query_one("#changes-summary", Static).update(summary)
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(no_wrap=True, style="dim")
        table.add_column(no_wrap=True, style="italic")
        table.add_column(ratio=1, overflow="fold")
        for event, text in events:
            table.add_row(local(event.at), event.actor, text)
        self.query_one("#changes-list", Static).update(table if events else "")

    def action_close(self) -> None:
        self.dismiss(None)
