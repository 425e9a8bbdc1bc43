"""Every kind of bad input, generated: it is accepted and kept exactly, or refused with a
clear InvalidInput; never another exception, never a half-done change. On both backends
through the services, and a few through the `mlops` process."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlops_tui import domain, modelconfig, timefmt
from mlops_tui.domain import Stage
from mlops_tui.errors import AlreadyExists, ConfigError, InvalidInput, MoveRefused
from mlops_tui.services import lifecycle, queries, transfer
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.reliability.helpers import mlops, seed_team

# The store fixture is shared by a test's examples on purpose (one database per backend).
SHARED_DB = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
UNICODE = [
    "🚀 retrain on fresh labels ✅",
    "👩‍🔬 checked by the science team",  # a zero-width-joiner sequence
    "مراجعة البيانات قبل النشر",  # Arabic, right to left
    "שלום: נתונים חדשים",  # Hebrew
    "e\u0301te\u0301 (combining accents)",
    "line one\nline two\twith a tab",
    "\u202ebidi override\u202c",
]


# -- model names -------------------------------------------------------------------------
names = st.one_of(
    st.text(max_size=80),
    st.from_regex(domain.MODEL_NAME_RE, fullmatch=True),
    st.sampled_from(["--force", "-x", "a" * 65, "a/../b", "churn\n", "Churn", "ü", "a b"]),
)


@SHARED_DB
@given(name=names)
def test_model_names_round_trip_or_are_refused(ctx: Context, name: str) -> None:
    valid = domain.MODEL_NAME_RE.fullmatch(name) is not None
    try:
        lifecycle.add_model(ctx, name, owner=ctx.actor)
    except InvalidInput as exc:
        assert not valid and "invalid model name" in exc.message
        return
    except AlreadyExists:
        assert valid  # hypothesis tried this name before
        return
    assert valid
    assert queries.model(ctx, name).name == name
    assert [e.kind for e in queries.history(ctx, model=name, limit=0)] == ["model.created"]


def test_model_names_through_the_cli(db_url: str) -> None:
    for bad in ("Churn", "a b", "a/../b", "é", "a" * 65, "x;rm -rf /"):
        done = mlops("model", "add", bad, "--owner", "tester", db=db_url)
        assert done.returncode == 2, (bad, done.stderr)
        assert done.stderr.startswith("mlops: invalid model name") and done.stderr.count("\n") == 1
    good = "fraud-v2.1_eu"
    mlops("model", "add", good, "--owner", "tester", db=db_url, check=True)
    assert json.loads(mlops("status", good, "--json", db=db_url).stdout)["name"] == good
    assert mlops("model", "add", "--", "--force", "--owner", "tester", db=db_url).returncode == 2
    assert [m["name"] for m in json.loads(mlops("status", "--json", db=db_url).stdout)] == [good]


# -- notes -------------------------------------------------------------------------------
@pytest.fixture
def in_build(ctx: Context) -> str:
    lifecycle.add_model(ctx, "noted", owner=ctx.actor)
    lifecycle.move(ctx, "noted", "build")
    return "noted"


@SHARED_DB
@given(note=st.text(max_size=300))
@example(note="\x1b[2J\x1b[31mred")
@example(note="bell\x07")
@example(note="\x9bC1 control")
@example(note="x" * 4001)
@example(note="   ")
def test_notes_are_stored_exactly_or_refused(ctx: Context, in_build: str, note: str) -> None:
    before = queries.head(ctx)
    try:
        lifecycle.move(ctx, in_build, "plan", note=note)  # rework: needs a note
    except InvalidInput as exc:
        assert "note contains control characters" in exc.message or "too long" in exc.message
        assert queries.head(ctx) == before  # nothing written
        return
    except MoveRefused as exc:
        assert not note.strip() and "add --note" in exc.cli_message
        return
    (event,) = queries.history(ctx, model=in_build, limit=1)
    assert event.data["note"] == note.strip()
    lifecycle.move(ctx, in_build, "build")


@pytest.mark.parametrize("note", UNICODE)
def test_emoji_and_right_to_left_notes_are_kept_exactly(ctx: Context, in_build, note) -> None:
    lifecycle.move(ctx, in_build, "plan", note=note)
    (event,) = queries.history(ctx, model=in_build, limit=1)
    assert event.data["note"] == note


def test_a_one_megabyte_note_is_refused_and_nothing_written(ctx: Context, in_build) -> None:
    before = queries.head(ctx)
    with pytest.raises(InvalidInput, match=r"note is too long \(1,000,000 characters"):
        lifecycle.move(ctx, in_build, "plan", note="x" * 1_000_000)
    assert queries.head(ctx) == before
    assert queries.model(ctx, in_build).stage is Stage.BUILD


def test_notes_through_the_cli(db_url: str, tmp_path) -> None:
    mlops("model", "add", "cli-notes", "--owner", "tester", db=db_url, check=True)
    mlops("move", "cli-notes", "build", db=db_url, check=True)
    bad = mlops("move", "cli-notes", "plan", "--note", "\x1b[31mred", db=db_url)
    assert bad.returncode == 2
    assert bad.stderr == "mlops: note contains control characters; use plain text\n"
    huge = mlops("move", "cli-notes", "plan", "--note", "x" * 100_000, db=db_url)
    assert huge.returncode == 2 and "too long (100,000 characters" in huge.stderr
    assert huge.stderr.count("\n") == 1
    note = UNICODE[0] + " / " + UNICODE[2]
    mlops("move", "cli-notes", "plan", "--note", note, db=db_url, check=True)
    history = json.loads(mlops("history", "cli-notes", "--json", db=db_url).stdout)
    assert history[0]["data"]["note"] == note
    assert "stage.moved" in {h["kind"] for h in history}
    assert json.loads(mlops("status", "cli-notes", "--json", db=db_url).stdout)["stage"] == "plan"


# -- stage names -------------------------------------------------------------------------
@SHARED_DB
@given(stage=st.one_of(st.text(max_size=20), st.sampled_from([" Deploy ", "BUILD", "prod"])))
def test_stage_names_are_read_or_refused(ctx: Context, stage: str) -> None:
    try:
        parsed = domain.parse_stage(stage)
    except InvalidInput as exc:
        assert "unknown stage" in exc.message and stage.strip().lower() not in list(Stage)
        return
    assert parsed == stage.strip().lower()


def test_unknown_stages_through_the_cli(db_url: str) -> None:
    mlops("model", "add", "cli-stage", "--owner", "tester", db=db_url, check=True)
    for stage in ("prod", "Déploy", "--force", ""):
        done = mlops("move", "cli-stage", stage, db=db_url)
        assert done.returncode == 2 and "Traceback" not in done.stderr


# -- dates for --since -------------------------------------------------------------------
dates = st.one_of(
    st.text(max_size=30),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.dates().map(str),
    st.builds("{}{}".format, st.integers(0, 10**7), st.sampled_from(["m", "min", "h", "d", "w"])),
)


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(text=dates)
@example(text="999999w")
@example(text="0001-01-01T00:00:00+14:00")
@example(text="9999-12-31T23:59:59-12:00")
def test_dates_are_read_as_utc_or_refused(text: str) -> None:
    try:
        when = timefmt.parse_when(text, now=NOW)
    except InvalidInput as exc:
        assert "cannot read the date" in exc.message or "too far" in exc.message
        return
    assert when.tzinfo is not None and when.utcoffset().total_seconds() == 0


def test_bad_dates_through_the_cli(db_url: str) -> None:
    for since in ("yesterday-ish", "2026-13-01", "9999999w", "0001-01-01T00:00+14:00"):
        done = mlops("history", "--since", since, db=db_url)
        assert done.returncode == 2, (since, done.stderr)
        assert done.stderr.startswith("mlops: ") and done.stderr.count("\n") == 1


# -- Git refs ----------------------------------------------------------------------------
refs = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="ab-./@{}^~:.", max_size=12),
    st.sampled_from(["--upload-pack=evil", "main..other", "a...b", "HEAD^", "@{-1}", "-x"]),
)


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(ref=refs)
def test_refs_never_let_an_option_or_a_range_through(ref: str) -> None:
    try:
        accepted = domain.validate_ref(ref)
    except InvalidInput as exc:
        assert "invalid ref" in exc.message
        return
    assert not accepted.startswith("-")  # an option to git
    assert ".." not in accepted and "@{" not in accepted  # a range or a reflog walk
    assert not any(c in accepted for c in "^~: \t\n\\*?[")  # revision syntax, globs
    done = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", accepted], capture_output=True
    )
    assert done.returncode == 0 or accepted.startswith("."), accepted


# -- mlops.toml --------------------------------------------------------------------------
def _toml_key(k: str) -> str:
    return json.dumps(k, ensure_ascii=False)


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int | str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    assert isinstance(v, dict)
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


KEYS = sorted({k for t in modelconfig._SCHEMA.values() for k in t} | {"metric", "warn", "critical"})
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["30s", "5m", "-1h", "/health", "../x", "plan", "alert", "1e400s"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
tables = st.dictionaries(
    st.sampled_from([*modelconfig._SCHEMA, "extra"]),
    st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), values, max_size=4),
    max_size=4,
)


@settings(deadline=None)  # a loaded CI machine must not fail a property
@given(doc=tables)
@example(doc={"test": {"timeout": -5}})
@example(doc={"deploy": {"timeout": math.nan}})
@example(doc={"monitor": {"threshold": [{"metric": "auc", "warn": math.inf}]}})
def test_any_mlops_toml_is_read_or_refused_with_a_config_error(doc: dict) -> None:
    text = "".join(
        f"[{_toml_key(t)}]\n"
        + "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in c.items())
        for t, c in doc.items()
    )
    try:
        cfg = modelconfig.parse(text, "mlops.toml")
    except ConfigError as exc:
        assert exc.message.startswith("mlops.toml")
        return
    for seconds in (cfg.test_timeout, cfg.deploy_timeout, cfg.monitor_max_age):
        assert math.isfinite(seconds) and seconds > 0


# -- export files ------------------------------------------------------------------------
@pytest.fixture
def exported(ctx: Context) -> str:
    seed_team(ctx, 6)
    out = io.StringIO()
    transfer.export(ctx, out)
    return out.getvalue()


@settings(SHARED_DB, max_examples=40)
@given(data=st.data())
def test_an_export_cut_anywhere_is_refused_with_its_line(
    exported: str, tmp_path_factory, data
) -> None:
    end = len(exported.rstrip("\n"))  # cutting only the final newline leaves a whole file
    cut = data.draw(st.integers(1, end - 1), label="cut")
    truncated = exported[:cut]
    with open_store(str(tmp_path_factory.mktemp("cut") / "empty.db")) as empty:
        with pytest.raises(InvalidInput) as info:
            transfer.import_(Context(empty, "x"), io.StringIO(truncated), "f")
        assert re.match(r"f:\d+: ", info.value.message), info.value.message
        lineno = int(info.value.message.split(":")[1])
        assert 1 <= lineno <= truncated.count("\n") + 1
        assert "nothing was imported" in info.value.message
        assert empty.count_models() == 0 and empty.head() == 0


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_an_export_edited_anywhere_is_imported_whole_or_not_at_all(data) -> None:
    with open_store(":memory:") as source:
        seed_team(Context(source, "x"), 4)
        out = io.StringIO()
        transfer.export(Context(source, "x"), out)
    text = out.getvalue()
    at = data.draw(st.integers(0, len(text) - 1), label="at")
    char = data.draw(st.characters(codec="utf-8"), label="char")
    edited = text[:at] + char + text[at + 1 :]
    with open_store(":memory:") as target:
        try:
            transfer.import_(Context(target, "x"), io.StringIO(edited), "f")
        except InvalidInput as exc:
            assert target.head() == 0 and target.count_models() == 0  # nothing imported
            assert re.match(r"f:\d+: ", exc.message), exc.message  # with its line
            assert exc.message.endswith("nothing was imported")
            return
        # A harmless edit (inside a note, a name…) imports everything, consistently.
        assert target.count_models() == 4


def test_a_row_only_the_database_refuses_is_named_by_its_line(db_url: str, tmp_path) -> None:
    """A version of a model the file does not have passes every line check; the database's
    foreign key refuses it, and the user still gets that line, through the CLI."""
    with open_store(":memory:") as source:
        seed_team(Context(source, "x"), 4)
        out = io.StringIO()
        transfer.export(Context(source, "x"), out)
    lines = out.getvalue().splitlines()
    at = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "version")
    lines[at] = lines[at].replace('"model": "model-', '"model": "ghost-')
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines) + "\n")
    done = mlops("import", str(broken), db=db_url)
    assert done.returncode == 2
    assert re.match(rf"mlops: {broken}:{at + 1}: .*nothing was imported\n$", done.stderr)
    assert json.loads(mlops("status", "--json", db=db_url).stdout) == []
