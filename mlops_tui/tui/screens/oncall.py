"""The on-call review: every production model, most urgent first, with the keys a shift
needs: acknowledge the model's alert (a), open its history (enter), check its health now
(C), roll back (R, asks first), hand it over (h)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from mlops_tui.domain import Health, Model
from mlops_tui.timefmt import ago
from mlops_tui.tui.backend import Snapshot
from mlops_tui.tui.colors import HEALTH_COLORS, health_text
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.widgets.shell.fitted_table import Fit, FittedTable

if TYPE_CHECKING:
    from mlops_tui.services.oncall import Review


#: What a shift scans first stays: the model, its health, why it needs someone (cut at
#: its end past 40 cells; the detail has it whole) and whose it is; the rest shrinks, then
#: goes, as the terminal narrows.
COLUMNS = (
    Fit("Model", rank=0, least=None, middle=True, keep=True),
    Fit("Prod", rank=2, least=None),
    Fit("Health", rank=1, least=None),
    Fit("Needs", rank=1, least=20, most=40, keep=True),
    Fit("Owner", rank=1, least=None),
    Fit("On call", rank=2, least=None),
    Fit("Backup", rank=3, least=6),
    Fit("Alerts", rank=4, least=None),
    Fit("Checked", rank=4, least=7),
    Fit("Last deploy", rank=4, least=10),
    Fit("Runbook", rank=5, least=8),
)


def _cells(r: Review, now: datetime) -> list[str | Text]:
    m = r.model
    d = r.last_deploy
    critical = f"bold {HEALTH_COLORS[Health.CRITICAL]}"
    name = Text(m.name, style="bold")
    if r.needs_attention:
        name = Text("! ", style=critical) + name
    owner = Text(m.owner)
    if r.orphaned:
        owner.append(" orphaned", style=critical)
    return [
        name,
        f"v{m.production_version}",
        health_text(m.health),
        Text(", ".join(r.problems)) if r.problems else Text("ok", style="green"),
        owner,
        m.oncall or Text("nobody", style="dim"),
        m.backup or "-",
        str(len(r.open_alerts)) if r.open_alerts else "-",
        ago(r.last_check_at, now) if r.last_check_at else "never",
        f"v{d.version} {ago(d.at, now)} by {d.by}" if d else "-",
        r.runbook or "-",
    ]


class OncallScreen(MlopsScreen):
    SUB_TITLE = "On-call"
    VIEW = "oncall"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "History"),
        Binding("a", "ack", "Acknowledge"),
        Binding("C", "check", "Check", id="model.check"),
        Binding("R", "rollback", "Rollback"),
        Binding("h", "hand_over", "Hand over"),
    ]
    DEFAULT_CSS = """
    OncallScreen #oncall-title { height: 1; padding: 0 1; text-style: bold; }
    OncallScreen FittedTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Review] = []

    def compose_body(self) -> ComposeResult:
        yield Static("On-call review", id="oncall-title")
        yield FittedTable(*COLUMNS, id="oncall-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).focus()
        self.load()

    async def show_snapshot(self, snapshot: Snapshot) -> None:
        self.load()

    def load(self) -> None:
        self.fetch(self.mlops.backend.oncall, self._show, "oncall")

    def _show(self, rows: list[Review]) -> None:
        if not self.is_attached:
            return
        now = self.mlops.now()
        self.rows = rows
        self.query_one(FittedTable).show([_cells(r, now) for r in rows])
        needing = sum(r.needs_attention for r in rows)
        title = Text("On-call review  ", style="bold")
        title.append(
            f"{len(rows)} in production, {needing} need attention"
            if rows
            else "no model in production",
            style="italic",
        )
        self.query_one("#oncall-title", Static).update(title)

    @property
    def selected(self) -> Review | None:
        table = self.query_one(DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @property
    def selected_model(self) -> Model | None:
        row = self.selected
        return row.model if row is not None else None

    @on(DataTable.RowSelected)
    def action_open(self) -> None:
        """enter on a row: the model's detail with its history."""
        if (model := self.selected_model) is not None:
            self.mlops.open_model(model.name)

    def action_check(self) -> None:
        self.mlops.check_model(self.selected_model)

    def action_rollback(self) -> None:
        self.mlops.rollback_model(self.selected_model)

    def action_hand_over(self) -> None:
        self.mlops.hand_over(self.selected_model)

    def action_ack(self) -> None:
        row = self.selected
        alerts = row.unacked if row is not None else []
        if not alerts:
            self.app.notify("No open alert on this model", severity="warning")
            return
        self.mlops.ack_alert(alerts[0])
