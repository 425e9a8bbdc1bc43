"""Every model in one sortable table, filtered as you type."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from mlops_tui.domain import Model
from mlops_tui.tui.backend import Snapshot
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.widgets.models.table import ModelTable


class FilterInput(Input):
    """Escape hands the keys back to the table (and clears the filter if it is empty)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back to the table"),
        Binding("down", "leave", "Back to the table", show=False),
    ]

    def action_leave(self) -> None:
        self.screen.query_one(ModelTable).focus()


class ModelsScreen(MlopsScreen):
    SUB_TITLE = "Models"
    VIEW = "models"
    AUTO_FOCUS = "#models"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("m", "move", "Move"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]
    DEFAULT_CSS = """
    ModelsScreen FilterInput { display: none; border: tall $accent; }
    ModelsScreen FilterInput.-shown { display: block; }
    ModelsScreen ModelTable { height: 1fr; }
    ModelsScreen #models-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    def compose_body(self) -> ComposeResult:
        yield FilterInput(placeholder="filter by name, owner, stage or tag", id="filter")
        yield ModelTable(now=self.mlops.now, id="models")
        yield Static(id="models-status")

    @property
    def table(self) -> ModelTable:
        return self.query_one(ModelTable)

    @property
    def selected_model(self) -> Model | None:
        return self.table.current

    async def show_snapshot(self, snapshot: Snapshot) -> None:
        self.table.set_models(snapshot.models)

    def _status(self) -> None:
        table = self.table
        text = f"{table.shown:,} of {table.total:,} models"
        query = self.query_one(FilterInput).value.strip()
        if query:
            text += f" matching {query!r}"
        order = "descending" if table.sort_reverse else "ascending"
        text += f" · sorted by {table.sort_column} ({order}) · s: sort, click a header"
        self.query_one("#models-status", Static).update(text, layout=False)  # one fixed line

    def action_filter(self) -> None:
        box = self.query_one(FilterInput)
        box.add_class("-shown")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one(FilterInput)
        if box.value:
            box.value = ""
        box.remove_class("-shown")
        self.table.focus()

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)  # the table's Highlighted updates the status

    @on(Input.Submitted, "#filter")
    def _filtered(self) -> None:
        self.table.focus()

    def on_model_table_selected(self, event: ModelTable.Selected) -> None:
        self.mlops.open_model(event.model.name)

    def on_model_table_highlighted(self, event: ModelTable.Highlighted) -> None:
        self._status()

    def action_move(self) -> None:
        self.mlops.move_model(self.selected_model)
