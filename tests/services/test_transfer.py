"""Export and import: moving a team's whole state between backends, exactly."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from mlops_tui.errors import Conflict, InvalidInput, PermissionDenied
from mlops_tui.services import demo, lifecycle, queries, transfer
from mlops_tui.services.context import Context
from mlops_tui.store import open_store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def export_text(ctx: Context) -> str:
    out = io.StringIO()
    transfer.export(ctx, out)
    return out.getvalue()


def body(text: str) -> list[str]:
    """The export without its header line (which carries the export time and source)."""
    return text.splitlines()[1:]


@pytest.fixture
def seeded(ctx: Context) -> Context:
    demo.seed(ctx.store, models=12, now=NOW)
    return ctx


def test_round_trip_through_the_other_backend_is_exact(
    seeded: Context, pg_server: str, tmp_path
) -> None:
    from tests.conftest import drop_pg_schema, new_pg_schema

    original = export_text(seeded)
    schema, pg_url = new_pg_schema(pg_server)
    try:
        hops = [open_store(pg_url), open_store(str(tmp_path / "back.db"))]
        if seeded.store.backend == "postgresql":
            hops.reverse()
        text = original
        for target in hops:
            with target:
                counts = transfer.import_(Context(target, "x"), io.StringIO(text), "f")
                assert counts["models"] == 12
                text = export_text(Context(target, "x"))
                assert body(text) == body(original)
    finally:
        drop_pg_schema(pg_server, schema)


def test_import_refuses_a_database_that_has_data(seeded: Context) -> None:
    admin = Context(seeded.store, "amara")  # the demo team's admin: past the gate
    with pytest.raises(Conflict, match="not empty"):
        transfer.import_(admin, io.StringIO(export_text(seeded)), "f")
    with pytest.raises(PermissionDenied, match="needs an admin"):
        transfer.import_(seeded, io.StringIO(export_text(seeded)), "f")


def _dup_model(ls: list[str]) -> list[str]:
    return [*ls[:3], ls[2], *ls[3:]]


@pytest.mark.parametrize(
    ("edit", "line", "reason"),
    [
        (lambda ls: ls[:-1], -1, "ends without its end record"),
        (lambda ls: [*ls[:5], "{not json", *ls[6:]], 6, "not valid JSON at column 2"),
        (lambda ls: [*ls[:3], ls[3].replace('"stage": "', '"stage": "x'), *ls[4:]], 4, "stage"),
        (_dup_model, 4, "appears twice"),
        (lambda ls: ["{}", *ls[1:]], 1, "not an mlops export"),
        (lambda ls: [*ls[:-1], ls[-1].replace('"events": ', '"events": 1')], 0, "counts 1"),
        (lambda ls: [*ls[:20], ls[20][:30], *ls[21:]], 21, "not valid JSON"),
        (lambda ls: [*ls, "{}"], 1, "after the end record"),
        (
            lambda ls: [*ls[:3], ls[3].replace('"revision": ', '"revision": 0.'), *ls[4:]],
            4,
            "revision",
        ),
    ],
)
def test_a_broken_file_is_refused_with_its_line_and_nothing_imported(
    seeded: Context, tmp_path, edit, line: int, reason: str
) -> None:
    lines = export_text(seeded).splitlines()
    broken = edit(lines)
    if line <= 1 and reason != "not an mlops export":
        line = len(lines) + line  # counted from the end of the file
    with open_store(str(tmp_path / "empty.db")) as empty:
        target = Context(empty, "x")
        with pytest.raises(InvalidInput, match=f"^f:{line}: .*{reason}") as info:
            transfer.import_(target, io.StringIO("\n".join(broken) + "\n"), "f")
        assert "nothing was imported" in info.value.message
        assert empty.count_models() == 0 and empty.head() == 0


def test_demo_history_replays_to_the_stored_state(seeded: Context) -> None:
    from mlops_tui.services.replay import replay

    state = replay(queries.history(seeded, limit=0))
    models = queries.models(seeded)
    assert {m.name for m in models} == set(state)
    for m in models:
        r = state[m.name]
        assert r["version"] == m.version
        assert (r["stage"], r["owner"], r["backup"], r["oncall"], r["iteration"]) == (
            str(m.stage),
            m.owner,
            m.backup,
            m.oncall,
            m.iteration,
        )
        assert (r["updated_by"], r["updated_at"]) == (m.updated_by, m.updated_at)


def test_demo_spreads_models_over_the_loop_and_months(seeded: Context) -> None:
    models = queries.models(seeded)
    assert {str(m.stage) for m in models} == {"plan", "build", "test", "deploy", "monitor"}
    events = queries.history(seeded, limit=0)
    assert max(e.at for e in events) <= NOW
    assert (NOW - min(e.at for e in events)).days >= 60
    assert len({e.actor for e in events}) >= 5
    assert any(e.data.get("move") == "rework" for e in events)
    assert any(m.iteration > 1 for m in models)
    # Models past build carry a version from the team's CI, with its builds on record.
    assert all(m.version for m in models if str(m.stage) in ("test", "deploy", "monitor"))
    assert any(e.kind == "build.finished" and e.data["status"] == "failed" for e in events)


def test_history_limit_zero_means_all(ctx: Context) -> None:
    lifecycle.add_model(ctx, "a", owner=ctx.actor)
    for s in ("plan", "build"):
        lifecycle.move(ctx, "a", "build" if s == "plan" else "plan", note="again")
    assert len(queries.history(ctx, limit=0)) == 3
    assert len(queries.history(ctx, limit=2)) == 2


@pytest.mark.parametrize("kind", ["check_result", "test_run", "alert"])
def test_an_id_that_is_no_value_is_refused_with_its_line(
    seeded: Context, tmp_path, kind: str
) -> None:
    """A list where an id belongs is a bad line, not a crash."""
    import re

    lines = export_text(seeded).splitlines()
    at = next(i for i, line in enumerate(lines) if f'"type": "{kind}"' in line)
    field = "metric" if kind == "check_result" else "id"
    lines[at] = re.sub(rf'"{field}": ("[^"]*"|\d+)', rf'"{field}": [\1]', lines[at], count=1)
    with open_store(str(tmp_path / "empty.db")) as empty:
        target = Context(empty, "x")
        with pytest.raises(InvalidInput, match=f"^f:{at + 1}: {kind} has a bad id"):
            transfer.import_(target, io.StringIO("\n".join(lines) + "\n"), "f")
        assert empty.count_models() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("in_image", '"abc"'), ("passed", '"3"'), ("url", "7"), ("status", "[1]")],
)
def test_a_value_of_the_wrong_type_is_refused_on_both_backends(
    seeded: Context, request: pytest.FixtureRequest, tmp_path, field: str, value: str
) -> None:
    """Whatever the record type: SQLite would otherwise keep "abc" in an integer column, and
    PostgreSQL fail with a driver error."""
    import re

    from tests.conftest import drop_pg_schema, new_pg_schema

    lines = export_text(seeded).splitlines()
    at = next(i for i, line in enumerate(lines) if '"type": "test_run"' in line)
    lines[at] = re.sub(rf'"{field}": ("[^"]*"|\w+)', f'"{field}": {value}', lines[at], count=1)
    server = request.getfixturevalue("pg_server")
    schema, pg_url = new_pg_schema(server)
    try:
        for url in (str(tmp_path / "empty.db"), pg_url):
            with open_store(url) as empty:
                with pytest.raises(InvalidInput, match=f"^f:{at + 1}: .*bad {field}"):
                    transfer.import_(Context(empty, "x"), io.StringIO("\n".join(lines)), "f")
                assert empty.count_models() == 0
    finally:
        drop_pg_schema(server, schema)
