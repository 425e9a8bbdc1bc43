"""The on-call review: every production model, most urgent first, with the keys a shift
needs: acknowledge the model's alert (a), open its history (enter), roll back (R, asks
first), hand it over (h)."""

from __future__ import annotations

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

if TYPE_CHECKING:
    from mlops_tui.services.oncall import Review


class OncallScreen(MlopsScreen):
    SUB_TITLE = "On-call"
    VIEW = "oncall"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "History"),
        Binding("a", "ack", "Acknowledge"),
        Binding("R", "rollback", "Rollback"),
        Binding("h", "hand_over", "Hand over"),
    ]
    DEFAULT_CSS = """
    OncallScreen #oncall-title { height: 1; padding: 0 1; text-style: bold; }
    OncallScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Review] = []

    def compose_body(self) -> ComposeResult:
        yield Static("On-call review", id="oncall-title")
        table: DataTable[str | Text] = DataTable(
            cursor_type="row", zebra_stripes=True, id="oncall-table"
        )
        table.add_columns(
            "Model",
            "Prod",
            "Owner",
            "Backup",
            "On call",
            "Health",
            "Checked",
            "Last deploy",
            "Alerts",
            "Runbook",
            "Needs",
        )
        yield table

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
        table = self.query_one(DataTable)
        keep = table.cursor_row
        self.rows = rows
        table.clear()
        for r in rows:
            m = r.model
            d = r.last_deploy
            name = Text(m.name, style="bold")
            if r.needs_attention:
                name = Text("! ", style=f"bold {HEALTH_COLORS[Health.CRITICAL]}") + name
            owner = Text(m.owner)
            if r.orphaned:
                owner.append(" orphaned", style=f"bold {HEALTH_COLORS[Health.CRITICAL]}")
            table.add_row(
                name,
                f"v{m.production_version}",
                owner,
                m.backup or "-",
                m.oncall or Text("nobody", style="dim"),
                health_text(m.health),
                ago(r.last_check_at, now) if r.last_check_at else "never",
                f"v{d.version} {ago(d.at, now)} by {d.by}" if d else "-",
                str(len(r.open_alerts)) if r.open_alerts else "-",
                r.runbook or "-",
                ", ".join(r.problems) or Text("ok", style="green"),
            )
        if rows:
            table.move_cursor(row=min(max(keep, 0), len(rows) - 1))
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
