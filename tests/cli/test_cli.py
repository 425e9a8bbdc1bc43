"""The `mlops` command as scripts and people use it: a real process, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import both_ways

MLOPS = [sys.executable, "-m", "mlops_tui"]


def run(db: str, *args: str, input: str | None = None, **env: str):
    full_env = {**os.environ, "MLOPS_DB": db, **env}
    return subprocess.run(
        [*MLOPS, *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=60,
        check=False,
    )


def ok(db: str, *args: str, **env: str) -> str:
    result = run(db, *args, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fails(db: str, *args: str, code: int | None = None, **env: str) -> str:
    """Run a command that must fail the way a user should see it: one line, no traceback."""
    result = run(db, *args, **env)
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


def people(db: str, *names: str) -> None:
    """Put people on the team (as the test's user) before a test makes them responsible for
    a model: nobody can be made owner, backup or receiver without existing."""
    for name in names:
        result = run(db, "user", "add", name)
        assert result.returncode == 0 or "already a user" in result.stderr, result.stderr


@pytest.fixture
def db(db_url: str) -> str:
    ok(db_url, "init")
    people(db_url, "alice", "bob")
    ok(
        db_url,
        "model",
        "add",
        "churn",
        "--owner",
        "alice",
        "--description",
        "Churn risk",
        "--tag",
        "tabular",
    )
    ok(db_url, "model", "add", "fraud", "--owner", "bob")
    return db_url


def test_init_is_idempotent(db_url: str) -> None:
    assert "created" in ok(db_url, "init")
    from mlops_tui.store.migrations import LATEST

    assert f"up to date (schema v{LATEST})" in ok(db_url, "init")


def test_moves_through_the_loop_and_status(db: str) -> None:
    assert ok(db, "move", "churn", "build").strip() == "churn: plan → build"
    ok(db, "record", "build", "churn", "--commit", "a" * 40, "--image", "reg/churn:1")
    ok(db, "move", "churn", "test")
    out = ok(db, "status")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "STAGE", "OWNER", "VER", "PROD", "HEALTH", "CHANGED"]
    assert lines[1].split()[:3] == ["churn", "test", "alice"]
    assert lines[2].split()[:3] == ["fraud", "plan", "bob"]
    assert "just now by tester" in lines[1]
    line = ok(db, "status", "churn")
    assert line.count("\n") == 1
    assert line.startswith("churn: test") and "owner alice" in line and "by tester" in line


def test_status_filters_and_json(db: str) -> None:
    ok(db, "move", "churn", "build")
    assert [r["name"] for r in json.loads(ok(db, "status", "--json", "--stage", "build"))] == [
        "churn"
    ]
    assert [r["name"] for r in json.loads(ok(db, "status", "--json", "--owner", "bob"))] == [
        "fraud"
    ]
    one = json.loads(ok(db, "status", "churn", "--json"))
    assert {
        "name",
        "stage",
        "owner",
        "version",
        "production_version",
        "health",
        "updated_at",
        "updated_by",
    } <= set(one)
    assert (one["stage"], one["updated_by"], one["version"]) == ("build", "tester", None)
    assert ok(db, "status", "--stage", "monitor") == ""


def test_refused_moves_explain_the_rule(db: str) -> None:
    assert "skips build" in fails(db, "move", "churn", "test", code=2)
    ok(db, "move", "churn", "build")
    assert "add --note" in fails(db, "move", "churn", "plan", code=2)
    out = ok(db, "move", "churn", "plan", "--note", "wrong features")
    assert "(rework): wrong features" in out
    assert "forced" in ok(db, "move", "churn", "deploy", "--force", "--note", "hotfix")


def test_user_errors_are_one_line(db: str) -> None:
    assert "no model named 'ghost'" in fails(db, "move", "ghost", "build", code=2)
    assert "unknown stage 'prod'" in fails(db, "move", "churn", "prod", code=2)
    assert "invalid model name" in fails(db, "model", "add", "Churn!", "--owner", "x", code=2)
    assert "already exists" in fails(db, "model", "add", "churn", "--owner", "bob", code=2)
    assert "no model named" in fails(db, "status", "ghost", code=2)
    assert "cannot read the date" in fails(db, "history", "--since", "last tuesday", code=2)
    assert "invalid MLOPS_USER" in fails(db, "move", "churn", "build", MLOPS_USER="a b")


def test_history_newest_first_with_filters(db: str) -> None:
    ok(db, "move", "churn", "build", MLOPS_USER="carol")
    people(db, "dave")
    ok(db, "owner", "set", "churn", "dave", "--role", "backup")
    events = json.loads(ok(db, "history", "--json"))
    assert [e["kind"] for e in events] == [
        "owner.set",
        "user.added",
        "stage.moved",
        "model.created",
        "model.created",
        "user.added",
        "user.added",
    ]
    assert {"at", "actor", "model", "kind", "data"} <= set(events[0])
    assert [e["actor"] for e in json.loads(ok(db, "history", "--by", "carol", "--json"))] == [
        "carol"
    ]
    assert len(json.loads(ok(db, "history", "churn", "--json", "--limit", "2"))) == 2
    assert json.loads(ok(db, "history", "--since", "1h", "--json"))
    assert json.loads(ok(db, "history", "--since", "2999-01-01", "--json")) == []
    table = ok(db, "history", "churn")
    assert "backup: nobody → dave" in table and "plan → build" in table


def test_owner_set_and_show(db: str) -> None:
    people(db, "erin", "frank")
    assert "owner: alice → erin" in ok(db, "owner", "set", "churn", "erin")
    ok(db, "owner", "set", "churn", "frank", "--role", "oncall")
    shown = ok(db, "model", "show", "churn")
    assert "owner:       erin" in shown and "on-call:     frank" in shown
    assert "Churn risk" in shown and "tabular" in shown
    data = json.loads(ok(db, "model", "show", "churn", "--json"))
    assert (data["owner"], data["oncall"], data["tags"]) == ("erin", "frank", ["tabular"])
    assert "unknown role" in fails(db, "owner", "set", "churn", "x", "--role", "boss")
    listed = json.loads(ok(db, "model", "list", "--json"))
    assert [m["name"] for m in listed] == ["churn", "fraud"]


def test_model_set_changes_repo_description_and_tags_with_history(db: str, tmp_path: Path) -> None:
    out = ok(db, "model", "set", "churn", "--repo", str(tmp_path), "-d", "Who leaves", "-t", "eu")
    assert out.startswith("churn: set ")
    shown = json.loads(ok(db, "model", "show", "churn", "--json"))
    assert (shown["repo"], shown["description"], shown["tags"]) == (
        str(tmp_path),
        "Who leaves",
        ["eu"],
    )
    ok(db, "model", "set", "churn", "--repo", "", "--no-tags")
    shown = json.loads(ok(db, "model", "show", "churn", "--json"))
    assert (shown["repo"], shown["tags"], shown["description"]) == (None, [], "Who leaves")
    (latest,) = json.loads(ok(db, "history", "churn", "--limit", "1", "--json"))
    assert latest["kind"] == "model.edited" and latest["actor"] == "tester"
    assert "nothing to change" in fails(db, "model", "set", "churn", code=2)
    assert "already has" in fails(db, "model", "set", "churn", "-d", "Who leaves", code=2)
    assert "no model" in fails(db, "model", "set", "nope", "-d", "x", code=2)


def test_export_import_between_backends(db: str, tmp_path: Path) -> None:
    ok(db, "move", "churn", "build")
    dump = tmp_path / "state.jsonl"
    ok(db, "export", str(dump))
    target = str(tmp_path / "new.db")
    # tester joined the team adding alice and bob: three user records
    imported = ok(target, "import", str(dump))
    assert "imported 2 models, 0 versions, 0 builds, 3 users and 5 events" in imported
    assert ok(target, "status", "--json") == ok(db, "status", "--json")
    assert "not empty" in fails(target, "import", str(dump), code=3)
    piped = run(db, "export")
    assert piped.stdout.splitlines()[1:] == dump.read_text().splitlines()[1:]


def test_import_refuses_a_broken_file_and_imports_nothing(db: str, tmp_path: Path) -> None:
    dump = tmp_path / "state.jsonl"
    ok(db, "export", str(dump))
    lines = dump.read_text().splitlines()
    lines[2] = lines[2][:-5]
    dump.write_text("\n".join(lines) + "\n")
    target = str(tmp_path / "new.db")
    assert f"{dump}:3: not valid JSON" in fails(target, "import", str(dump), code=2)
    assert ok(target, "status", "--json") == "[]\n"
    assert "cannot read" in fails(target, "import", str(tmp_path / "missing.jsonl"))


def test_unreachable_databases_are_one_line(tmp_path: Path) -> None:
    msg = fails("postgresql://nobody@127.0.0.1:1/none", "status", code=4)
    assert msg.startswith("mlops: cannot reach PostgreSQL at postgresql://nobody@127.0.0.1:1/none")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "cannot create the folder" in fails(str(blocker / "sub" / "m.db"), "status", code=4)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert "not an mlops database" in fails(str(garbage), "status", code=4)


def test_plain_output_fits_80_columns_without_colour(db: str) -> None:
    people(db, "someone-with-a-long-name")
    ok(
        db,
        "model",
        "add",
        "a-really-long-model-name-for-the-recommendations-team-eu-west",
        "--owner",
        "someone-with-a-long-name",
    )
    out = ok(db, "status", COLUMNS="80")
    assert "\x1b[" not in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "…" in out


def test_colour_only_on_a_terminal_without_no_color(db: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    script = (
        "import pty, os, sys; os.environ.update(MLOPS_DB=sys.argv[1]); "
        "pty.spawn([sys.executable, '-m', 'mlops_tui', 'status'])"
    )
    tty = subprocess.run(
        [sys.executable, "-c", script, db], capture_output=True, env=env, timeout=60, check=False
    )
    assert b"\x1b[" in tty.stdout
    env["NO_COLOR"] = "1"
    tty = subprocess.run(
        [sys.executable, "-c", script, db], capture_output=True, env=env, timeout=60, check=False
    )
    assert b"\x1b[" not in tty.stdout and b"churn" in tty.stdout


def test_status_stays_light(db: str) -> None:
    """`mlops status` is typed all day: it must not load the TUI, Docker, Git or Rich."""
    probe = (
        "import sys\n"
        "from mlops_tui.cli import main\n"
        "try:\n    main(['status'])\nexcept SystemExit:\n    pass\n"
        "heavy = ['textual', 'docker', 'git', 'rich', 'psycopg']\n"
        "print(' '.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "MLOPS_DB": db},
        timeout=60,
        check=False,
    )
    # on PostgreSQL too: the lean reader speaks to libpq without psycopg
    assert result.stderr.strip().split() == []


def test_demo_seeds_once_with_an_example_model_in_a_real_repository(
    db_url: str, tmp_path: Path, base_image: str
) -> None:
    folder = tmp_path / "data"  # on PostgreSQL, the example goes in the data folder
    env = {"XDG_DATA_HOME": str(folder)}
    result = run(db_url, "demo", "--models", "10", "--no-tui", **env)
    assert result.returncode == 0 and "seeded 10 models" in result.stderr
    rows = json.loads(ok(db_url, "status", "--json"))
    assert len(rows) == 11 and len({r["stage"] for r in rows}) == 5
    example = json.loads(ok(db_url, "model", "show", "iris-classifier", "--json"))
    assert (example["owner"], example["stage"]) == ("tester", "plan")
    assert Path(example["repo"], ".git").is_dir()
    assert f"an example model with a real repository at {example['repo']}" in result.stderr
    assert "note:" not in result.stderr  # Docker is here: nothing to say
    again = run(db_url, "demo", "--no-tui", **env)
    assert "already has 11 models" in again.stderr
    assert len(json.loads(ok(db_url, "status", "--json"))) == 11


def test_the_demo_says_once_what_is_missing_without_docker(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    result = run(db, "demo", "--models", "3", "--no-tui", DOCKER_HOST="unix:///nowhere.sock")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "install docker.io" in notes[0]
    assert (tmp_path / "iris-classifier" / "mlops.toml").is_file()  # next to the database
    assert "iris-classifier" in ok(db, "status")


def test_default_database_lives_in_the_data_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_DB"}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    result = subprocess.run(
        [*MLOPS, "init"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xdg" / "mlops-tui" / "mlops.db").exists()


def test_help_and_version() -> None:
    assert "Plan → Build → Test → Deploy → Monitor" in ok(":memory:", "--help")
    assert ok(":memory:", "--version").startswith("mlops-tui ")


PATHS = (
    "import sys\n"
    "import mlops_tui.cli as cli\n"
    "if sys.argv[1] == 'typer':\n"
    "    cli.fast_status_args = lambda args: None\n"
    "cli.main(sys.argv[2:])\n"
)


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "churn"],
        ["status", "--json"],
        ["status", "churn", "--json"],
        ["status", "--stage", "build", "--owner", "alice"],
        ["status", "--owner", "bob", "--json"],
        ["status", "ghost"],
        ["status", "--stage", "prod"],
        ["status", "--at", "1h"],
        ["status", "--at", "2020-01-01"],
        ["status", "churn", "--at", "1h", "--json"],
        ["status", "--at", "yesterday-ish"],
    ],
)
def test_the_fast_status_path_prints_what_typer_prints(db: str, args: list[str]) -> None:
    ok(db, "move", "churn", "build")
    fast, typer = both_ways(PATHS, ("fast", "typer"), "--db", db, *args)
    assert fast == typer


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--help"],
        ["status", "-h"],
        ["status", "a", "b"],
        ["status", "--stage"],
        ["status", "--json", "--json"],
        ["status", "--stage", "--json"],
        ["status", "--at"],
        ["status", "--at", "1h", "--at", "2h"],
        ["status", "--verbose"],
        ["model", "list"],
        [],
        ["--db"],
        ["--version"],
    ],
)
def test_anything_unusual_goes_to_typer(args: list[str]) -> None:
    from mlops_tui.cli import fast_status_args

    assert fast_status_args(args) is None


def test_build_from_the_cli_streams_the_log_and_gates_the_move(db_url, gitrepo, docker_client):
    gitrepo.commit("first", Dockerfile="FROM scratch\nCOPY m.txt /m.txt\n", **{"m.txt": "1"})
    people(db_url, "alice")
    ok(db_url, "model", "add", "churn", "--owner", "alice", "--repo", str(gitrepo.path))
    ok(db_url, "move", "churn", "build")
    assert "no build yet" in fails(db_url, "move", "churn", "test", code=2)
    out = ok(db_url, "build", "churn")
    assert "│ Successfully tagged churn:v1" in out
    assert out.splitlines()[-1].startswith("built churn v1 from ")
    ok(db_url, "move", "churn", "test")
    (build,) = json.loads(ok(db_url, "builds", "churn", "--json"))
    assert (build["status"], build["version"]) == ("succeeded", 1)
    assert "churn@v1.0.0" in ok(db_url, "git", "churn", "tag")
    gitrepo.repo.git.push("--set-upstream", "origin", "main")
    assert "pushed the branch and 1 tag to origin" in ok(db_url, "git", "churn", "push")
    assert "branch:  main" in ok(db_url, "git", "churn", "status")
    assert "invalid ref" in fails(db_url, "build", "churn", "--ref", "--upload-pack=x")
    msg = fails(db_url, "build", "churn", DOCKER_HOST="unix:///nonexistent.sock", code=6)
    assert "cannot reach the Docker engine" in msg
    assert "nothing to commit" in fails(db_url, "git", "churn", "commit", "-m", "x", code=5)


def test_record_build_from_external_ci(db: str) -> None:
    out = ok(
        db,
        "record",
        "build",
        "churn",
        "--commit",
        "a" * 40,
        "--image",
        "reg/churn:7",
        "--url",
        "https://ci.example.com/7",
    )
    assert out.strip() == "recorded build #1 of churn v1: succeeded"
    assert "invalid commit" in fails(
        db, "record", "build", "churn", "--commit", "zz", "--image", "x"
    )
    assert json.loads(ok(db, "status", "churn", "--json"))["version"] == 1


def test_the_board_needs_a_terminal(db: str) -> None:
    for args in ([], ["tui"]):
        assert "the board needs a terminal" in fails(db, *args, code=2)
    result = run(db, "demo", "--models", "3")
    assert result.returncode == 2 and "needs a terminal" in result.stderr


def test_a_session_outside_any_command_uses_the_default_settings(tmp_path, monkeypatch) -> None:
    """Code that opens a session without Click (a script, the fast status path) gets
    MLOPS_DB, as a command without --db does, rather than a RuntimeError."""
    from mlops_tui.cli.common import session

    db = str(tmp_path / "scripted.db")
    monkeypatch.setenv("MLOPS_DB", db)
    with session(deliver=False) as ctx:
        assert ctx.store.location == db
