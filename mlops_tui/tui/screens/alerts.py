"""Alerts still open or acknowledged, newest first, with `a` to acknowledge the selected one
(a note saying what you are doing about it is optional) and enter to open its model."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from mlops_tui.domain import Alert, AlertStatus, Health, Model
from mlops_tui.tui.backend import Snapshot
from mlops_tui.tui.colors import HEALTH_COLORS, HEALTH_MARKS
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.screens.prompt import PromptScreen
from mlops_tui.tui.widgets.shell.fitted_table import Fit, FittedTable


class AckPrompt(PromptScreen):
    """Enter acknowledges, with or without a note ("" for none); escape cancels (None)."""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.prevent_default()  # PromptScreen's handler would dismiss a second time
        self.dismiss(event.value.strip())


_STATUS_STYLE = {
    AlertStatus.OPEN: f"bold {HEALTH_COLORS[Health.CRITICAL]}",
    AlertStatus.ACKNOWLEDGED: HEALTH_COLORS[Health.WARN],
    AlertStatus.RESOLVED: "dim",
}


#: Which model, what and its state stay; the detail takes the room left (cut at its end),
#: who acknowledged, then when, give way first.
COLUMNS = (
    Fit("Alert", rank=1, least=None),
    Fit("Model", rank=0, least=None, middle=True, keep=True),
    Fit("Metric", rank=1, least=10),
    Fit("Status", rank=0, least=None),
    Fit("Opened", rank=2, least=None),
    Fit("Ack by", rank=3, least=6),
    Fit("Detail", rank=1, least=20, most=60, keep=True),
)


class AlertsScreen(MlopsScreen):
    SUB_TITLE = "Alerts"
    VIEW = "alerts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "ack", "Acknowledge"),
        Binding("enter", "open", "Open model", show=False),
    ]
    DEFAULT_CSS = """
    AlertsScreen #alerts-title { height: 1; padding: 0 1; text-style: bold; }
    AlertsScreen FittedTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[Alert] = []

    def compose_body(self) -> ComposeResult:
        yield Static("Alerts", id="alerts-title")
        yield FittedTable(*COLUMNS, id="alerts-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).focus()
        self.load()

    async def show_snapshot(self, snapshot: Snapshot) -> None:
        self.load()

    @property
    def selected(self) -> Alert | None:
        table = self.query_one(DataTable)
        if not self.alerts or table.cursor_row < 0 or table.cursor_row >= len(self.alerts):
            return None
        return self.alerts[table.cursor_row]

    @property
    def selected_model(self) -> Model | None:
        alert = self.selected
        snapshot = self.mlops.snapshot
        if alert is None or snapshot is None:
            return None
        return next((m for m in snapshot.models if m.name == alert.model), None)

    def load(self) -> None:
        self.fetch(self.mlops.backend.alerts, self._show, "alerts")

    def _show(self, alerts: list[Alert]) -> None:
        self.alerts = alerts
        self.query_one(FittedTable).show(
            [
                [
                    f"#{a.id}",
                    a.model,
                    a.metric,
                    Text(
                        f"{HEALTH_MARKS[Health.CRITICAL]} {a.status.value}",
                        _STATUS_STYLE[a.status],
                    ),
                    a.opened_at.astimezone().strftime("%Y-%m-%d %H:%M"),
                    a.acked_by or "-",
                    a.detail + (f" · {a.note}" if a.note else ""),
                ]
                for a in alerts
            ]
        )
        unacked = sum(1 for a in alerts if a.status == AlertStatus.OPEN)
        title = Text("Alerts  ", style="bold")
        title.append(
            f"{len(alerts)} unresolved, {unacked} not acknowledged" if alerts else "none open",
            style="italic",
        )
        self.query_one("#alerts-title", Static).update(title)

    def action_open(self) -> None:
        alert = self.selected
        if alert is not None:
            self.mlops.open_model(alert.model)

    def action_ack(self) -> None:
        alert = self.selected
        if alert is None:
            self.app.notify("No alert selected", severity="warning")
            return
        if alert.status != AlertStatus.OPEN:
            self.app.notify(
                f"Alert #{alert.id} is already {alert.status.value}", severity="warning"
            )
            return
        self.mlops.ack_alert(alert)
