"""Everything waiting for me, one section each. Today: handoffs offered to me (tick the
checklist with space from anywhere on the screen, accept with `a`, decline with a note
with `x`).

A section is a widget in `compose_sections` and a read of its own: the handoffs (`load`),
then the approvals waiting for me below them (`load_approvals`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from mlops_tui.domain import Handoff, Model
from mlops_tui.errors import MlopsError
from mlops_tui.tui.backend import Snapshot
from mlops_tui.tui.screens.approvals import ApprovalsSection
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.screens.prompt import PromptScreen
from mlops_tui.tui.widgets.approvals.pending import PendingApprovals
from mlops_tui.tui.widgets.team.checklist import Checklist
from mlops_tui.tui.widgets.team.handoff_table import HandoffTable


class InboxScreen(ApprovalsSection, MlopsScreen):
    SUB_TITLE = "Inbox"
    VIEW = "inbox"
    approvals_for_me = True  # the versions I may approve or reject
    BINDINGS: ClassVar[list[BindingType]] = [
        # Here, not on the checklist: space ticks whatever the focus (the handoffs table
        # starts with it, and that is where people are when they read the checklist).
        Binding("space", "tick", "Tick"),
        Binding("a", "accept", "Accept"),
        Binding("x", "decline", "Decline"),
        Binding("o", "open", "Open model"),
    ]
    DEFAULT_CSS = """
    InboxScreen .inbox-section { height: 1; padding: 0 1; text-style: bold; margin-top: 1; }
    InboxScreen HandoffTable { height: auto; max-height: 12; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.handoffs: list[Handoff] = []
        # Ticks and accepts are written in the order they were made: ticking the last item
        # then pressing `a` at once must not reach the database as accept-then-tick.
        self._writes: deque[Callable[[], None]] = deque()
        self._writing = threading.Lock()

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="inbox"):
            yield from self.compose_sections()

    def compose_sections(self) -> ComposeResult:
        yield Static("Handoffs waiting for you", classes="inbox-section", id="inbox-handoffs-title")
        yield HandoffTable(id="inbox-handoffs")
        yield Checklist(id="inbox-checklist")
        # approvals: a/x on this table approve/reject (its own keys)
        yield Static("Waiting for approval", classes="inbox-section", id="approvals-title")
        yield PendingApprovals()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(HandoffTable).focus()
        self.load()
        self.load_approvals()

    async def show_snapshot(self, snapshot: Snapshot) -> None:
        self.load()
        self.load_approvals()

    def load(self) -> None:
        self.fetch(self.mlops.backend.inbox, self._show, "inbox")

    def _show(self, handoffs: list[Handoff]) -> None:
        if not self.is_attached:
            return
        self.handoffs = handoffs
        self.query_one(HandoffTable).show_handoffs(handoffs, self.mlops.now())
        title = Text("Handoffs waiting for you  ", style="bold")
        title.append(f"{len(handoffs)}" if handoffs else "none", style="italic")
        self.query_one("#inbox-handoffs-title", Static).update(title)
        self._show_checklist()

    @property
    def selected(self) -> Handoff | None:
        table = self.query_one(HandoffTable)
        if not self.handoffs or not 0 <= table.cursor_row < len(self.handoffs):
            return None
        return self.handoffs[table.cursor_row]

    @property
    def selected_model(self) -> Model | None:
        handoff = self.selected
        snapshot = self.mlops.snapshot
        if handoff is None or snapshot is None:
            return None
        return next((m for m in snapshot.models if m.name == handoff.model), None)

    @on(DataTable.RowHighlighted, "#inbox-handoffs")
    def _show_checklist(self) -> None:
        self.query_one(Checklist).show(self.selected)

    def action_tick(self) -> None:
        if not self.query_one(Checklist).toggle():
            self.app.notify("Nothing to tick: select a handoff first", severity="warning")

    @on(Checklist.Toggled)
    def _toggled(self, event: Checklist.Toggled) -> None:
        backend = self.mlops.backend
        handoff_id, items, done = event.handoff_id, [event.item], event.done
        self._write(lambda: backend.tick(handoff_id, items, done))

    def _write(self, job: Callable[[], object], accepted: str | None = None) -> None:
        """Queue a write; `accepted` is what to say once an accept is stored."""

        def run() -> None:
            try:
                job()
            except MlopsError as exc:
                self.mlops.call_from_thread(self.mlops.show_error, exc)
            else:
                if accepted:
                    self.mlops.call_from_thread(self.app.notify, accepted, title="Handoff accepted")
            self.mlops.call_from_thread(self.mlops.poll, True)

        self._writes.append(run)
        self._drain()

    @work(thread=True, group="inbox-writes")
    def _drain(self) -> None:
        with self._writing:  # one writer at a time, taking the queue in order
            while self._writes:
                self._writes.popleft()()

    def action_accept(self) -> None:
        handoff = self.selected
        if handoff is None:
            self.app.notify("No handoff selected", severity="warning")
            return
        # The service refuses an unticked checklist and names the items: queued after the
        # ticks, the accept sees them, and the rule lives in one place.
        backend = self.mlops.backend
        handoff_id = handoff.id
        self._write(
            lambda: backend.accept(handoff_id),
            accepted=f"You own {handoff.model} now (#{handoff_id})",
        )

    def action_decline(self) -> None:
        handoff = self.selected
        if handoff is None:
            self.app.notify("No handoff selected", severity="warning")
            return

        def answer(note: str | None) -> None:
            if note:
                self._decline(handoff.id, note)

        self.app.push_screen(
            PromptScreen(
                f"Decline #{handoff.id} ({handoff.model} from {handoff.from_user})? Say why:",
                placeholder="why (the sender reads it)",
                required="Declining needs a note saying why: the sender reads it.",
            ),
            answer,
        )

    @work(thread=True, group="inbox-decline")
    def _decline(self, handoff_id: int, note: str) -> None:
        try:
            done = self.mlops.backend.decline(handoff_id, note)
        except MlopsError as exc:
            self.mlops.call_from_thread(self.mlops.show_error, exc)
            return
        self.mlops.call_from_thread(
            self.app.notify, f"Declined #{done.id} ({done.model})", title="Handoff declined"
        )
        self.mlops.call_from_thread(self.mlops.poll, True)

    def action_open(self) -> None:
        handoff = self.selected
        if handoff is not None:
            self.mlops.open_model(handoff.model)
