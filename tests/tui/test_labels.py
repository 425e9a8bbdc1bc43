"""Fitting words into narrow cells: names keep what tells them apart, versions read as
words, and tables share their width by what matters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.text import Text

from mlops_tui.tui import labels
from mlops_tui.tui.widgets.shell.fitted_table import Fit, fit


def test_a_name_that_fits_is_left_alone():
    assert labels.middle("churn-predictor", 15) == "churn-predictor"
    assert labels.end("a note", 6) == "a note"


def test_names_that_share_a_prefix_stay_apart_when_cut():
    eu, plain = labels.middle("churn-predictor-eu", 11), labels.middle("churn-predictor", 11)
    assert eu == "churn…or-eu"
    assert plain == "churn…ictor"
    assert eu != plain


def test_the_end_gets_the_odd_cell():
    assert labels.middle("sentiment-analyzer-eu", 12) == "senti…zer-eu"


def test_prose_keeps_its_start():
    assert labels.end("orphaned (dana left), nobody on call", 12) == "orphaned (d…"


@pytest.mark.parametrize("width", [0, 1, 2])
def test_tiny_widths_never_overflow(width):
    assert cell_len(labels.middle("churn-predictor", width)) <= width
    assert cell_len(labels.end("churn-predictor", width)) <= width


def test_wide_characters_are_counted_in_cells():
    cut = labels.middle("日本語のモデル名です", 9)
    assert cell_len(cut) <= 9 and cut.startswith("日") and cut.endswith("す")


@given(st.text(min_size=0, max_size=40), st.integers(min_value=0, max_value=50))
def test_a_cut_always_fits_and_keeps_both_ends(text, width):
    for cut in (labels.middle(text, width), labels.end(text, width)):
        assert cell_len(cut) <= max(width, 0)
    if cell_len(text) <= width:
        assert labels.middle(text, width) == text


def test_styled_text_keeps_its_styles_when_cut():
    text = Text("! churn-predictor-eu")
    text.stylize("red", 0, 1)
    cut = labels.fit_text(text, 12, keep_end=True)
    assert cut.plain == "! chu…tor-eu"
    assert (cut.spans[0].start, cut.spans[0].end, cut.spans[0].style) == (0, 1, "red")


@pytest.mark.parametrize(
    ("current", "production", "words"),
    [
        (3, 2, "v3 · prod v2"),
        (3, 3, "v3 · in prod"),
        (3, None, "v3 · not in prod"),
        (None, None, "no version yet"),
        (None, 2, "prod v2"),
    ],
)
def test_versions_read_as_words(current, production, words):
    assert labels.versions(current, production) == words


def test_versions_take_a_shorter_wording_when_narrow():
    assert labels.versions(3, None, 12) == "v3 · no prod"
    assert labels.versions(None, None, 11) == "no version"
    assert labels.versions(12, 11, 12) == "v12 prod v11"
    assert cell_len(labels.versions(123, 122, 6)) <= 6


# -- sharing a table's width ---------------------------------------------------------------
COLUMNS = (
    Fit("name", rank=0, least=None, keep=True),
    Fit("why", rank=1, least=10, most=30, keep=True),
    Fit("owner", rank=1, least=None),
    Fit("extra", rank=3, least=4),
)
NATURALS = [20, 30, 8, 12]


def test_with_room_to_spare_every_column_is_whole():
    assert fit(COLUMNS, NATURALS, 200, gap=2) == NATURALS


def test_when_narrow_the_least_important_goes_before_a_key_column_is_cut():
    # name, why and owner whole take 22 + 32 + 10 = 64 cells; "extra" needs 6 more.
    assert fit(COLUMNS, NATURALS, 70, gap=2) == [20, 30, 8, 4]
    assert fit(COLUMNS, NATURALS, 69, gap=2) == [20, 30, 8, 0]


def test_when_narrower_still_prose_shrinks_but_keeps_its_least():
    widths = fit(COLUMNS, NATURALS, 50, gap=2)
    assert widths == [20, 16, 8, 0]
    assert sum(w + 2 for w in widths if w) <= 50


def test_a_kept_column_takes_what_is_left_rather_than_going():
    widths = fit(COLUMNS, NATURALS, 30, gap=2)
    assert widths[0] == 20 and widths[1] == 6 and widths[2] == 0
