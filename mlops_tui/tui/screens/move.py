"""Choosing where a model goes next, with the note the history keeps.

The rules stay in the service: this screen only names the kind of move (so it can ask for
a note and a confirmation before the unusual ones) and shows the service's refusal.
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
from mlops_tui.errors import Conflict, MlopsError
from mlops_tui.store import Change
from mlops_tui.tui.colors import STAGE_COLORS
from mlops_tui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from mlops_tui.tui.app import MlopsApp

_KIND_HINTS = {
    MoveKind.FORWARD: "forward: the next stage",
    MoveKind.ITERATION: "starts a new iteration of the loop",
    MoveKind.REWORK: "rework: going back needs a note saying why",
    MoveKind.FORCED: "skips ahead: recorded as forced; needs a note",
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
            yield Input(placeholder="note: why (required for rework and skips)", id="note")
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
        if kind in (MoveKind.REWORK, MoveKind.FORCED):
            text.append(". You will be asked to confirm.")
        hint.update(text)

    @on(OptionList.OptionSelected)
    @on(Input.Submitted, "#note")
    def submit(self) -> None:
        target = self.target
        kind = move_kind(self.model.stage, target) if target else None
        if target is None or kind is None:
            return
        note = self.query_one("#note", Input).value.strip() or None
        force = kind == MoveKind.FORCED
        if kind in (MoveKind.REWORK, MoveKind.FORCED) and note:
            what = "back" if kind == MoveKind.REWORK else "ahead, skipping stages,"
            question = (
                f"Move {self.model.name} {what} from {self.model.stage} to {target}?\n"
                f"It is recorded as {kind} with your note."
            )

            def answered(yes: bool | None) -> None:
                if yes:
                    self.send(target, note, force)

            self.app.push_screen(ConfirmScreen(question), answered)
            return
        self.send(target, note, force)

    @work(thread=True, exclusive=True, group="move")
    def send(self, target: Stage, note: str | None, force: bool) -> None:
        app = cast("MlopsApp", self.app)
        try:
            change = app.backend.move(
                self.model.name, target, note=note, force=force, revision=self.model.revision
            )
        except Conflict as exc:
            app.call_from_thread(self._conflict, exc)
        except MlopsError as exc:
            app.call_from_thread(app.show_error, exc)
        else:
            app.call_from_thread(self.dismiss, change)

    def _conflict(self, exc: Conflict) -> None:
        cast("MlopsApp", self.app).show_error(exc)
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
