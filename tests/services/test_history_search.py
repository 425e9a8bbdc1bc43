"""`history --search`: full-text search over the history, the same on both backends."""

from __future__ import annotations

import io
import json

import pytest

from mlops_tui.errors import InvalidInput, NotFound
from mlops_tui.services import lifecycle, queries, transfer
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.conftest import known
from tests.reliability.helpers import mlops


@pytest.fixture
def team(ctx: Context) -> Context:
    lifecycle.add_model(ctx, "churn", owner="alice", description="weekly churn")
    known(ctx, "bob")
    lifecycle.add_model(ctx, "fraud", owner="bob")
    lifecycle.move(ctx, "churn", "build", note="Label leakage in the March data")
    lifecycle.move(ctx, "fraud", "build", note="new features from the payments team")
    lifecycle.move(ctx, "churn", "plan", note="rework: leakage fixed, retrain")
    return ctx


def test_search_finds_notes_by_every_word_newest_first(team: Context) -> None:
    found = queries.history(team, search="leakage")
    assert [e.data.get("note") for e in found] == [
        "rework: leakage fixed, retrain",
        "Label leakage in the March data",
    ]
    # Every word must be there, in any case and order.
    assert [e.model for e in queries.history(team, search="MARCH label")] == ["churn"]
    assert queries.history(team, search="leakage payments") == []


def test_search_combines_with_the_other_filters(team: Context) -> None:
    assert [e.model for e in queries.history(team, search="leakage", limit=1)] == ["churn"]
    assert queries.history(team, model="fraud", search="leakage") == []
    assert len(queries.history(team, actor="alice", search="build")) == 3
    # The kind and the people are words too.
    assert {e.kind for e in queries.history(team, search="created")} == {"model.created"}


@pytest.mark.parametrize("text", ['"', "AND OR NOT", "kind:model", "a*", "(", "NEAR(x y)"])
def test_search_syntax_is_never_an_error(team: Context, text: str) -> None:
    """What a user types is words, not a query language: nothing they type breaks it."""
    queries.history(team, search=text)


@pytest.mark.parametrize("text", ["", "   ", "a\x00b"])
def test_an_empty_or_unprintable_search_is_refused(team: Context, text: str) -> None:
    with pytest.raises(InvalidInput):
        queries.history(team, search=text)


def test_search_of_an_unknown_model_says_so(team: Context) -> None:
    with pytest.raises(NotFound):
        queries.history(team, model="nope", search="leakage")


def test_an_imported_history_is_searchable(team: Context, tmp_path, db_url: str) -> None:
    """The index follows every way events arrive: an import fills it too."""
    buffer = io.StringIO()
    transfer.export(team, buffer)
    target = tmp_path / "copy.db"
    with open_store(str(target)) as store:
        copy = Context(store, "alice")
        transfer.import_(copy, buffer.getvalue().splitlines())
        assert len(queries.history(copy, search="leakage")) == 2


def test_the_cli_searches_and_refuses_an_empty_search(team: Context, db_url: str) -> None:
    shown = mlops("history", "--search", "leakage", "--json", db=db_url, check=True)
    assert [e["data"]["note"] for e in json.loads(shown.stdout)] == [
        "rework: leakage fixed, retrain",
        "Label leakage in the March data",
    ]
    refused = mlops("history", "--search", " ", db=db_url)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "mlops: a search needs a word or more, without control characters"
    ]
