"""Versions waiting for approval before production. `ApprovalsSection` is what any screen
showing a `PendingApprovals` table mixes in (the inbox does, for what the user may approve);
`ApprovalsScreen` shows every pending request, from the command palette. The services
refuse a decision from the requester or from someone neither responsible for the model nor
a maintainer, and the refusal is shown as a notification."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from mlops_tui.errors import MlopsError
from mlops_tui.services.approvals import Approval
from mlops_tui.tui.backend import Snapshot
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.screens.prompt import PromptScreen
from mlops_tui.tui.widgets.approvals.pending import PendingApprovals


class ApprovalsSection(MlopsScreen):
    """Loads the pending approvals into the screen's PendingApprovals and acts on a/x."""

    #: only the requests the current user may decide (the inbox), or all of them
    approvals_for_me: bool = False

    @work(thread=True, exclusive=True, group="approvals")
    def load_approvals(self) -> None:
        try:
            pending = self.mlops.backend.pending_approvals(mine=self.approvals_for_me)
        except MlopsError as exc:
            self.mlops.call_from_thread(self.mlops.show_error, exc)
            return
        self.mlops.call_from_thread(self._show_approvals, pending)

    def _show_approvals(self, pending: list[Approval]) -> None:
        if not self.is_attached:
            return
        self.query_one(PendingApprovals).show_approvals(pending, self.mlops.now())
        count = f"{len(pending)}" if pending else "none"
        self.query_one("#approvals-title", Static).update(
            f"Waiting for approval before production  {count}"
        )

    @on(PendingApprovals.Decide)
    def _decide(self, message: PendingApprovals.Decide) -> None:
        a = message.approval
        if message.approve:
            self._record(a, True, None)
            return

        def got(note: str | None) -> None:
            if note:
                self._record(a, False, note)

        question = f"Reject {a.model} v{a.version}: why?"
        prompt = PromptScreen(
            question,
            "what must change first",
            required="Rejecting needs a reason: the requester reads it.",
        )
        self.mlops.push_screen(prompt, got)

    @work(thread=True, group="approvals-write")
    def _record(self, a: Approval, approve: bool, note: str | None) -> None:
        backend = self.mlops.backend
        try:
            if approve:
                backend.approve(a.model, a.version, note)
            else:
                backend.reject(a.model, a.version, note)
        except MlopsError as exc:
            self.mlops.call_from_thread(self.mlops.show_error, exc)
        else:
            verb = "Approved" if approve else "Rejected"
            self.mlops.call_from_thread(self.mlops.notify, f"{a.model} v{a.version}", title=verb)
        self.mlops.call_from_thread(self.load_approvals)
        self.mlops.call_from_thread(self.mlops.poll, True)


class ApprovalsScreen(ApprovalsSection):
    SUB_TITLE = "Approvals"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]
    DEFAULT_CSS = """
    ApprovalsScreen #approvals-title { height: 1; padding: 0 1; text-style: bold; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static("Waiting for approval before production", id="approvals-title")
        yield PendingApprovals()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(PendingApprovals).focus()
        self.load_approvals()

    async def show_snapshot(self, snapshot: Snapshot) -> None:
        self.load_approvals()

    def action_back(self) -> None:
        self.dismiss()
