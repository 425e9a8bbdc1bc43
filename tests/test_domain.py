"""The loop's rules, without any database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_tui import domain
from mlops_tui.domain import STAGES, MoveKind, Stage
from mlops_tui.errors import InvalidInput, MoveRefused


@pytest.mark.parametrize(
    ("current", "target", "kind"),
    [
        ("plan", "build", MoveKind.FORWARD),
        ("build", "test", MoveKind.FORWARD),
        ("test", "deploy", MoveKind.FORWARD),
        ("deploy", "monitor", MoveKind.FORWARD),
        ("monitor", "plan", MoveKind.ITERATION),
    ],
)
def test_one_step_forward_needs_nothing(current: str, target: str, kind: MoveKind) -> None:
    assert domain.classify_move(Stage(current), Stage(target), None, False) == kind


def test_going_back_is_rework_and_needs_a_note() -> None:
    with pytest.raises(MoveRefused, match="rework and needs a note saying why; add --note TEXT"):
        domain.classify_move(Stage.DEPLOY, Stage.BUILD, None, False)
    assert domain.classify_move(Stage.DEPLOY, Stage.BUILD, "bad AUC", False) == MoveKind.REWORK


def test_skipping_ahead_needs_force_and_a_note() -> None:
    with pytest.raises(MoveRefused, match="skips test"):
        domain.classify_move(Stage.BUILD, Stage.DEPLOY, "hotfix", False)
    with pytest.raises(MoveRefused, match="needs a note"):
        domain.classify_move(Stage.BUILD, Stage.DEPLOY, None, True)
    assert domain.classify_move(Stage.BUILD, Stage.DEPLOY, "hotfix", True) == MoveKind.FORCED


def test_staying_put_is_refused() -> None:
    with pytest.raises(MoveRefused, match="already in test"):
        domain.classify_move(Stage.TEST, Stage.TEST, "x", True)


@given(st.sampled_from(STAGES), st.sampled_from(STAGES), st.booleans(), st.booleans())
def test_every_pair_of_stages_is_decided(a: Stage, b: Stage, noted: bool, force: bool) -> None:
    """Any move is either allowed with a kind, or refused with a message; never a crash."""
    note = "why" if noted else None
    try:
        kind = domain.classify_move(a, b, note, force)
    except MoveRefused as exc:
        assert exc.message
        return
    if kind in (MoveKind.REWORK, MoveKind.FORCED):
        assert note
    if kind is MoveKind.FORCED:
        assert force


@pytest.mark.parametrize("name", ["churn", "a", "x1", "fraud-v2.1_eu", "9lives", "a" * 64])
def test_good_model_names(name: str) -> None:
    assert domain.validate_model_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "Churn", "-x", ".x", "_x", "a b", "a/b", "a" * 65, "--force", "é", "a\n"]
)
def test_bad_model_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid model name"):
        domain.validate_model_name(name)


@given(st.text(max_size=80))
def test_model_names_accepted_iff_they_match_the_rule(name: str) -> None:
    ok = domain.MODEL_NAME_RE.fullmatch(name) is not None
    try:
        domain.validate_model_name(name)
    except InvalidInput:
        assert not ok
    else:
        assert ok and len(name) <= 64 and name[0].isalnum()


def test_stage_names_are_forgiving_about_case_but_not_spelling() -> None:
    assert domain.parse_stage(" Deploy ") is Stage.DEPLOY
    with pytest.raises(InvalidInput, match="the stages are plan, build, test, deploy, monitor"):
        domain.parse_stage("prod")


@given(st.text(max_size=200))
def test_notes_are_plain_text_or_refused(note: str) -> None:
    try:
        cleaned = domain.clean_text(note, "note", domain.MAX_NOTE)
    except InvalidInput as exc:
        assert "control characters" in exc.message
        return
    assert cleaned is None or all(
        c in "\n\t" or ord(c) >= 0xA0 or 0x20 <= ord(c) < 0x7F for c in cleaned
    )


def test_huge_notes_are_refused_with_their_size() -> None:
    with pytest.raises(InvalidInput, match="too long"):
        domain.clean_text("x" * 1_000_000, "note", domain.MAX_NOTE)


# -- the MLflow bridge's naming rule ----------------------------------------------------------
@given(st.text(max_size=300))
def test_a_registered_models_name_here_is_a_valid_name_or_none(name: str) -> None:
    from mlops_tui.domain.mlflow import local_name

    found = local_name(name)
    if found is not None:
        assert domain.validate_model_name(found) == found
        assert local_name(found) == found, "a name here maps to itself"


def test_the_naming_rule_as_the_readme_gives_it() -> None:
    from mlops_tui.domain.mlflow import local_name

    assert local_name("Iris Classifier") == "iris-classifier"
    assert local_name("Über Modell") == "uber-modell"
    assert local_name("team/churn.v2") == "team-churn.v2"
    assert local_name("__private__") == "private"
    assert local_name("模型") is None and local_name("---") is None
    assert local_name("x" * 100) == "x" * 64
