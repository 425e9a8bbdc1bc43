"""Time travel: scrub a model's history and see the model as it was after each event,
replayed from the history the same way `mlops status --at` does."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from mlops_tui.errors import MlopsError
from mlops_tui.services import queries
from mlops_tui.services.timetravel import ModelAt
from mlops_tui.timefmt import local
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.widgets.detail.moment import Moment


class TimeTravelScreen(MlopsScreen):
    SUB_TITLE = "Time travel"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        # priority: the events table would take them to scroll sideways
        Binding("left", "step(-1)", "Earlier", priority=True),
        Binding("right", "step(1)", "Later", priority=True),
        Binding("home", "jump(0)", "First", show=False, priority=True),
        Binding("end", "jump(-1)", "Now", show=False, priority=True),
    ]
    DEFAULT_CSS = """
    TimeTravelScreen #tt-title { height: 1; padding: 0 1; text-style: bold; }
    TimeTravelScreen #tt-events { width: 3fr; height: 1fr; }
    TimeTravelScreen #moment { width: 2fr; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name
        self.steps: list[ModelAt] = []
        self.selected: ModelAt | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(f"{self.model_name}: reading the history…", id="tt-title")
        with Horizontal():
            table: DataTable[str] = DataTable(cursor_type="row", id="tt-events")
            table.add_columns("#", "at", "by", "what")
            yield table
            yield Moment()

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = f"{self.model_name} · time travel"
        self.query_one(DataTable).focus()
        self.load()

    @work(thread=True, exclusive=True, group="timetravel")
    def load(self) -> None:
        try:
            steps = self.mlops.backend.timeline(self.model_name)
        except MlopsError as exc:
            self.mlops.call_from_thread(self._failed, exc)
            return
        self.mlops.call_from_thread(self._show, steps)

    def _failed(self, exc: MlopsError) -> None:
        self.mlops.show_error(exc)
        if self.is_current:
            self.dismiss()

    def _show(self, steps: list[ModelAt]) -> None:
        self.steps = steps
        table = self.query_one(DataTable)
        table.clear()
        for i, step in enumerate(steps, 1):
            e = step.event
            table.add_row(str(i), local(e.at), e.actor, queries.describe(e), key=str(e.id))
        if steps:
            table.move_cursor(row=len(steps) - 1)  # start at now, then go back in time
            self._select(len(steps) - 1)

    def _select(self, index: int) -> None:
        if not self.steps:
            return
        index = max(0, min(index, len(self.steps) - 1))
        step = self.selected = self.steps[index]
        now = self.steps[-1].state
        what = queries.describe(step.event)
        self.query_one(Moment).show(step.state, now, what, step.event.at)
        self.query_one("#tt-title", Static).update(
            f"{self.model_name} as it was at {local(step.event.at)}: "
            f"event {index + 1} of {len(self.steps)}"
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select(event.cursor_row)

    def action_step(self, delta: int) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, min(table.cursor_row + delta, len(self.steps) - 1)))

    def action_jump(self, index: int) -> None:
        self.query_one(DataTable).move_cursor(row=index % max(len(self.steps), 1))

    def action_back(self) -> None:
        self.dismiss()
