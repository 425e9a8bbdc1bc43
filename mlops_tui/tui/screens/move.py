"""Choosing where a model goes next, with the note the history keeps.

The rules stay in the service: this screen only names the kind of move, so it can ask for
the note a rework or a skip must carry before sending it (never failing for want of one),
and, when the loop's gate refuses a move for missing evidence, offer the same move forced
past the gate with a note saying why (the service records it as forced).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mlops_tui import domain
from mlops_tui.domain import STAGES, Model, MoveKind, Stage
from mlops_tui.errors import Conflict, MlopsError, MoveRefused
from mlops_tui.store import Change
from mlops_tui.tui.colors import STAGE_COLORS
from mlops_tui.tui.screens.confirm import ConfirmScreen
from mlops_tui.tui.screens.prompt import PromptScreen

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp

_KIND_HINTS = {
    MoveKind.FORWARD: "forward: the next stage",
    MoveKind.ITERATION: "starts a new iteration of the loop",
    MoveKind.REWORK: "rework: going back, with a note saying why",
    MoveKind.FORCED: "skips ahead: forced, with a note saying why",
}


def move_kind(current: Stage, target: Stage) -> MoveKind | None:
    """What kind of move this would be, asked of the domain rather than re-implemented."""
    if current == target:
        return None
    return domain.classify_move(current, target, note="?", force=True)


class StageList(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class MoveScreen(ModalScreen[Change | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = """
    MoveScreen { align: center middle; }
    MoveScreen > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; border-title-style: bold; background: $surface; padding: 0 1;
    }
    MoveScreen StageList { height: auto; max-height: 7; margin: 1 0 0 0; }
    MoveScreen #move-hint { height: auto; margin: 1 0 0 0; }
    MoveScreen #move-keys { color: $text-muted; }
    """

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.model = model

    def compose(self) -> ComposeResult:
        current = self.model.stage
        options = []
        for stage in STAGES:
            label = Text(f"{stage.value:<8}", style=f"bold {STAGE_COLORS[stage]}")
            kind = move_kind(current, stage)
            label.append("  " + (_KIND_HINTS[kind] if kind else "current stage"), style="dim")
            options.append(Option(label, id=stage.value, disabled=kind is None))
        with Vertical() as box:
            box.border_title = f"Move {self.model.name}"
            yield Static(
                Text.assemble(
                    "Now in ",
                    (current.value, f"bold {STAGE_COLORS[current]}"),
                    f" (revision {self.model.revision})",
                ),
                id="move-now",
            )
            yield StageList(*options, id="stages")
            yield Static(id="move-hint")
            yield Input(placeholder="note: why (asked for when a move needs one)", id="note")
            yield Static("enter: move · tab: note · escape: cancel", id="move-keys")

    def on_mount(self) -> None:
        stages = self.query_one(StageList)
        stages.highlighted = self.model.stage.next().position
        stages.focus()

    @property
    def target(self) -> Stage | None:
        index = self.query_one(StageList).highlighted
        return STAGES[index] if index is not None else None

    @on(OptionList.OptionHighlighted)
    def _hint(self) -> None:
        target = self.target
        kind = move_kind(self.model.stage, target) if target else None
        hint = self.query_one("#move-hint", Static)
        if target is None or kind is None:
            hint.update("")
            return
        text = Text.assemble(
            f"{self.model.stage.value} → ",
            (target.value, f"bold {STAGE_COLORS[target]}"),
            f": {_KIND_HINTS[kind]}",
        )
        hint.update(text)

    @on(OptionList.OptionSelected)
    @on(Input.Submitted, "#note")
    def submit(self) -> None:
        target = self.target
        kind = move_kind(self.model.stage, target) if target else None
        if target is None or kind is None:
            return
        note = self.query_one("#note", Input).value.strip() or None
        if kind not in (MoveKind.REWORK, MoveKind.FORCED):
            self.send(target, note, force=False)
            return
        force = kind == MoveKind.FORCED
        what = "back" if kind == MoveKind.REWORK else "ahead, skipping stages,"
        move = f"Move {self.model.name} {what} from {self.model.stage} to {target}?"
        if note:
            question = f"{move}\nIt is recorded as {kind} with your note."

            def answered(yes: bool | None) -> None:
                if yes:
                    self.send(target, note, force)

            self.app.push_screen(ConfirmScreen(question), answered)
            return
        self._ask_note(
            f"{move}\nIt is recorded as {kind}: say why, for whoever reads the history.",
            target,
            force=force,
        )

    def _ask_note(self, question: str, target: Stage, *, force: bool, value: str = "") -> None:
        """The note this move must carry; enter sends the move, escape keeps the picker."""

        def answered(note: str | None) -> None:
            if note:
                self.query_one("#note", Input).value = note
                self.send(target, note, force)

        self.app.push_screen(
            PromptScreen(
                question,
                placeholder="why",
                value=value,
                required="This move needs a note saying why.",
                keys=f"enter: move to {target} · escape: back to the picker",
            ),
            answered,
        )

    @work(thread=True, exclusive=True, group="move")
    def send(self, target: Stage, note: str | None, force: bool) -> None:
        app = cast("MlopsApp", self.app)
        try:
            change = app.backend.move(
                self.model.name, target, note=note, force=force, revision=self.model.revision
            )
        except Conflict as exc:
            app.call_from_thread(self._conflict, exc)
        except MoveRefused as exc:
            # A move to the next stage is refused only by its gate (missing evidence),
            # which a forced move with a note may override.
            if not force and move_kind(self.model.stage, target) == MoveKind.FORWARD:
                app.call_from_thread(self._offer_force, exc, target, note)
            else:
                app.call_from_thread(app.show_error, exc)
        except MlopsError as exc:
            app.call_from_thread(app.show_error, exc)
        else:
            app.call_from_thread(self.dismiss, change)

    def _offer_force(self, exc: MoveRefused, target: Stage, note: str | None) -> None:
        """The gate wants evidence the model does not have yet: say what, and offer the move
        anyway, recorded as forced past the gate, once the user says why."""
        self._ask_note(
            f"{exc.reason}.\n\nMove it to {target} anyway? The history records it as "
            f"forced past the {self.model.stage} gate, with your note saying why.",
            target,
            force=True,
            value=note or "",
        )

    def _conflict(self, exc: Conflict) -> None:
        cast("MlopsApp", self.app).show_error(exc)
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
