"""The loop at a glance: one column per stage, a card per model."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal

from mlops_tui.domain import STAGES, Model
from mlops_tui.tui.backend import Snapshot
from mlops_tui.tui.screens.base import MlopsScreen
from mlops_tui.tui.widgets.board.card import ModelCard
from mlops_tui.tui.widgets.board.column import StageColumn


class BoardScreen(MlopsScreen):
    SUB_TITLE = "Board"
    VIEW = "board"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("m", "move", "Move"),
        # H, as h is already the vim key for the column on the left
        Binding("H", "hand_over", "Hand over"),
        Binding("left,h", "column(-1)", "Left column", show=False),
        Binding("right,l", "column(1)", "Right column", show=False),
        Binding("up,k", "card(-1)", "Card above", show=False),
        Binding("down,j", "card(1)", "Card below", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._selected: str | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="board"):
            for stage in STAGES:
                yield StageColumn(stage)

    @property
    def columns(self) -> list[StageColumn]:
        return list(self.query(StageColumn))

    @property
    def selected_model(self) -> Model | None:
        focused = self.focused
        return focused.model if isinstance(focused, ModelCard) else None

    async def show_snapshot(self, snapshot: Snapshot) -> None:
        by_stage: dict[str, list[Model]] = {s.value: [] for s in STAGES}
        for model in snapshot.models:
            by_stage[model.stage.value].append(model)
        for column in self.columns:
            await column.show(by_stage[column.stage.value])
        self._restore_focus()

    def _restore_focus(self) -> None:
        """Keep the selection on the same model, even after it moved to another column."""
        if isinstance(self.focused, ModelCard) and self.focused.model.name == self._selected:
            return
        for column in self.columns:
            for card in column.cards:
                if card.model.name == self._selected:
                    card.focus(scroll_visible=True)
                    return
        self._focus_at(0, 0)

    def on_descendant_focus(self, event: object) -> None:
        if isinstance(self.focused, ModelCard):
            self._selected = self.focused.model.name

    def _position(self) -> tuple[int, int] | None:
        focused = self.focused
        for c, column in enumerate(self.columns):
            for r, card in enumerate(column.cards):
                if card is focused:
                    return c, r
        return None

    def _focus_at(self, column: int, row: int, step: int = 1) -> bool:
        """Focus the card at (column, row), or the nearest one going `step` columns."""
        columns = self.columns
        while 0 <= column < len(columns):
            cards = columns[column].cards
            if cards:
                cards[max(0, min(row, len(cards) - 1))].focus()
                return True
            column += step
        return False

    def action_column(self, delta: int) -> None:
        where = self._position()
        if where is None:
            self._focus_at(0, 0)
            return
        self._focus_at(where[0] + delta, where[1], step=delta)

    def action_card(self, delta: int) -> None:
        where = self._position()
        if where is None:
            self._focus_at(0, 0)
            return
        cards = self.columns[where[0]].cards
        cards[max(0, min(where[1] + delta, len(cards) - 1))].focus()

    def action_open(self) -> None:
        if (model := self.selected_model) is not None:
            self.mlops.open_model(model.name)

    def action_move(self) -> None:
        self.mlops.move_model(self.selected_model)

    def action_hand_over(self) -> None:
        self.mlops.hand_over(self.selected_model)

    def on_model_card_opened(self, event: ModelCard.Opened) -> None:
        self.mlops.open_model(event.card.model.name)
