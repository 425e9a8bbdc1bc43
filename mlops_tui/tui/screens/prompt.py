"""A one-line question with a text answer (a commit message, a note), for keys that need
words. Where the answer is required (the note a rework or a decline must carry), an empty
enter says so and keeps the question open: nobody is sent back to start over."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PromptScreen(ModalScreen[str | None]):
    """Dismissed with the answer, None when cancelled (or left empty where allowed)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical {
        width: 70; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    PromptScreen Input { margin-top: 1; }
    PromptScreen #prompt-keys { color: $text-muted; }
    PromptScreen #prompt-needed { color: $warning; display: none; }
    PromptScreen #prompt-needed.-shown { display: block; }
    """

    def __init__(
        self,
        question: str,
        placeholder: str = "",
        *,
        value: str = "",
        required: str | None = None,
        keys: str = "enter: confirm · escape: cancel",
    ) -> None:
        """`required`: what to say when enter is pressed with nothing typed."""
        super().__init__()
        self.question = question
        self.placeholder = placeholder
        self.value = value
        self.required = required
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="prompt-question")
            yield Input(self.value, placeholder=self.placeholder)
            yield Static(self.required or "", id="prompt-needed")
            yield Static(self.keys, id="prompt-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        answer = event.value.strip()
        if not answer and self.required:
            self.query_one("#prompt-needed").add_class("-shown")
            return
        self.dismiss(answer or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
