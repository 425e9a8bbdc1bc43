"""Time travel: scrub a model's history and see the model as it was after each event,
replayed from the history (the same replay as the command line's status at a past time).

Side by side where there is room; on a narrow terminal the events stack above the panel,
so neither is squeezed to initials."""

from __future__ import annotations

from typing import ClassVar

from textual import events, work
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
from mlops_tui.tui.widgets.shell.fitted_table import Fit, FittedTable

#: Below this many columns the panel goes under the events instead of beside them.
SIDE_BY_SIDE = 100

#: When, who and what stay (what takes the room left, cut at its end: the panel has it
#: whole); the event's number goes first (the title counts them).
COLUMNS = (
    Fit("#", rank=1, least=None),
    Fit("at", rank=0, least=None),
    Fit("by", rank=0, least=None, most=12),
    Fit("what", rank=0, least=20, keep=True),
)


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
    TimeTravelScreen #tt-body { height: 1fr; }
    TimeTravelScreen #tt-events { width: 1fr; height: 1fr; }
    TimeTravelScreen #moment { width: 48; }
    TimeTravelScreen.-narrow #tt-body { layout: vertical; }
    TimeTravelScreen.-narrow #tt-events { width: 1fr; }
    TimeTravelScreen.-narrow #moment { width: 1fr; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name
        self.steps: list[ModelAt] = []
        self.selected: ModelAt | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(f"{self.model_name}: reading the history…", id="tt-title")
        with Horizontal(id="tt-body"):
            yield FittedTable(*COLUMNS, id="tt-events")
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
        table = self.query_one(FittedTable)
        table.show(
            [
                [str(i), local(s.event.at), s.event.actor, queries.describe(s.event)]
                for i, s in enumerate(steps, 1)
            ],
            keys=[str(s.event.id) for s in steps],
        )
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

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        self.set_class(event.size.width < SIDE_BY_SIDE, "-narrow")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select(event.cursor_row)

    def action_step(self, delta: int) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, min(table.cursor_row + delta, len(self.steps) - 1)))

    def action_jump(self, index: int) -> None:
        self.query_one(DataTable).move_cursor(row=index % max(len(self.steps), 1))

    def action_back(self) -> None:
        self.dismiss()
