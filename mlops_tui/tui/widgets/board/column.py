"""One stage of the loop as a column of cards, its header counting what is in it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from mlops_tui.domain import Model, Stage
from mlops_tui.tui.colors import STAGE_COLORS
from mlops_tui.tui.widgets.board.card import ModelCard

# Past this many cards a column says how many more there are: the Models table (2) is the
# place for thousands, and mounting thousands of widgets would freeze the board.
MAX_CARDS = 100


class CardList(VerticalScroll, can_focus=False, inherit_bindings=False):
    """Scrolls its cards without taking the arrow keys, which move the board's selection."""


class StageColumn(Vertical):
    DEFAULT_CSS = """
    StageColumn { width: 1fr; height: 1fr; margin: 0 1 0 0; }
    StageColumn > .column-header { height: 2; padding: 0 1; text-style: bold; }
    StageColumn > .column-more { height: 1; padding: 0 1; color: $text-muted; }
    StageColumn CardList { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def __init__(self, stage: Stage) -> None:
        super().__init__(id=f"column-{stage.value}")
        self.stage = stage

    def compose(self) -> ComposeResult:
        yield Static(classes="column-header")
        yield CardList()
        yield Static(classes="column-more")

    def on_mount(self) -> None:
        header = self.query_one(".column-header", Static)
        header.styles.border_bottom = ("heavy", STAGE_COLORS[self.stage])
        self._count(0)

    def _count(self, count: int) -> None:
        text = Text(self.stage.value.capitalize(), style=f"bold {STAGE_COLORS[self.stage]}")
        text.append(f"  {count}", style="bold")
        self.query_one(".column-header", Static).update(text)
        more = self.query_one(".column-more", Static)
        more.update(f"+{count - MAX_CARDS} more: see Models (2)")
        more.display = count > MAX_CARDS

    @property
    def cards(self) -> list[ModelCard]:
        return list(self.query_one(CardList).query_children(ModelCard))

    async def show(self, models: list[Model]) -> None:
        """Update cards in place when the same models are shown, else rebuild the column."""
        self._count(len(models))
        models = models[:MAX_CARDS]
        cards = self.cards
        if [c.model.name for c in cards] == [m.name for m in models]:
            for card, model in zip(cards, models, strict=True):
                card.show(model)
            return
        holder = self.query_one(CardList)
        await holder.remove_children()
        await holder.mount_all(ModelCard(m) for m in models)
