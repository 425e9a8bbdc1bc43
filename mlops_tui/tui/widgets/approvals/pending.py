"""Versions waiting for approval before production, one row each: `a` approves the selected
one, `x` rejects it with a reason. The widget only asks; the screen acts (see
`screens.approvals.ApprovalsSection`)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from mlops_tui.services.approvals import Approval
from mlops_tui.timefmt import ago
from mlops_tui.tui.widgets.shell.fitted_table import Fit, FittedTable

#: Which version, how far from approved stay whole; who and when give way.
COLUMNS = (
    Fit("model", rank=0, least=None, middle=True, keep=True),
    Fit("version", rank=0, least=None),
    Fit("approvals", rank=1, least=None),
    Fit("requested by", rank=2, least=6),
    Fit("when", rank=2, least=6),
    Fit("approved by", rank=3, least=8),
)


class PendingApprovals(FittedTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide(True)", "Approve"),
        Binding("x", "decide(False)", "Reject"),
    ]
    DEFAULT_CSS = """
    PendingApprovals { height: auto; max-height: 12; }
    """

    class Decide(Message):
        """The user approved (or, with a note to ask for, rejected) `approval`."""

        def __init__(self, approval: Approval, approve: bool) -> None:
            super().__init__()
            self.approval = approval
            self.approve = approve

    def __init__(self, *, id: str | None = "pending-approvals") -> None:
        super().__init__(*COLUMNS, id=id)
        self.approvals: list[Approval] = []

    def show_approvals(self, approvals: list[Approval], now: datetime) -> None:
        self.approvals = approvals
        self.show(
            [
                [
                    a.model,
                    f"v{a.version}",
                    f"{len(a.approved_by)} of {a.required}",
                    a.requested_by or "-",
                    ago(a.requested_at, now) if a.requested_at else "-",
                    ", ".join(a.approved_by) or "-",
                ]
                for a in approvals
            ],
            keys=[f"{a.model}@{a.version}" for a in approvals],
        )

    @property
    def selected(self) -> Approval | None:
        if not self.approvals or self.cursor_row < 0:
            return None
        return self.approvals[min(self.cursor_row, len(self.approvals) - 1)]

    def action_decide(self, approve: bool) -> None:
        if self.selected is None:
            self.app.notify("Nothing waits for approval", severity="warning")
            return
        self.post_message(self.Decide(self.selected, approve))
