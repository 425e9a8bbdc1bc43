"""Who may do what: every command of the CLI, as every kind of person, on both backends.

The commands come from the Typer app itself, so a new command fails `test_every_command_is
_declared` until it is declared read-only or given a row in WRITES. Each write runs as a
viewer, a deactivated person, someone unknown while open_join is off, a member who does not
own the model, the model's owner (a member), a maintainer and an admin. A refusal must be
exit 7, one line, recorded as `permission.denied`, with nothing else changed; an allowed
write must get past the gate (it may still fail later for its own reasons: no repository,
no Docker, a non-empty database). The README's "Who may do what" is this table.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import click
import pytest
import typer

from mlops_tui.cli import main
from mlops_tui.cli.app import app
from mlops_tui.services import (
    approvals,
    builds,
    handoffs,
    lifecycle,
    team,
    tokens,
    transfer,
    webhooks,
)
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from tests.conftest import drop_pg_schema, new_pg_schema

PERSONAS = {
    "viewer": "vic",
    "deactivated": "dee",
    "unknown": "zed",  # never added, and the team turned open_join off
    "member": "nora",  # a member who neither owns nor backs up the model
    "owner": "olly",  # a member who owns the model (and receives the pending handoff)
    "maintainer": "mia",
    "admin": "root",
}
ACTIVE = ("member", "owner", "maintainer", "admin")
RULES = {
    "known": ("any active person but a viewer", set(ACTIVE)),
    "responsible": (
        "the model's owner or backup, or a maintainer or admin",
        {"owner", "maintainer", "admin"},
    ),
    "maintainer": ("a maintainer or an admin", {"maintainer", "admin"}),
    "admin": ("an admin", {"admin"}),
    "receiver": ("the handoff's receiver", {"owner"}),
    "sender": ("the handoff's sender, or an admin", {"admin"}),
    "nobody's data": ("anyone: it changes no team's data", set(PERSONAS)),
}


class Write(NamedTuple):
    args: tuple[str, ...]
    rule: str
    note: str = ""


SHA = "b" * 40
WRITES: dict[str, Write] = {
    "model add": Write(("model", "add", "newm", "--owner", "olly"), "known"),
    "model set": Write(("model", "set", "churn", "--description", "new words"), "responsible"),
    "move": Write(("move", "churn", "test", "--note", "rework"), "known", "forced: responsible"),
    "owner set": Write(("owner", "set", "churn", "mia", "--role", "backup"), "responsible"),
    "build": Write(("build", "churn"), "known"),
    "record build": Write(
        ("record", "build", "churn", "--commit", SHA, "--image", "reg/churn:2"), "known"
    ),
    "test": Write(("test", "churn"), "known"),
    "record test": Write(("record", "test", "churn", "--version", "1", "--passed"), "known"),
    "deploy": Write(("deploy", "churn"), "responsible", "and the approvals it needs"),
    "rollback": Write(("rollback", "churn"), "responsible"),
    "record deploy": Write(
        ("record", "deploy", "churn", "--version", "1"), "responsible", "and its approvals"
    ),
    "check": Write(("check", "churn"), "known"),
    "ack": Write(("ack", "1"), "known"),
    "git pull": Write(("git", "churn", "pull"), "responsible"),
    "git commit": Write(("git", "churn", "commit", "-m", "x"), "responsible"),
    "git tag": Write(("git", "churn", "tag"), "responsible"),
    "git push": Write(("git", "churn", "push"), "responsible"),
    "approve": Write(
        ("approve", "churn", "--version", "1"), "responsible", "never the one who asked"
    ),
    "reject": Write(
        ("reject", "churn", "--version", "1", "--note", "no"),
        "responsible",
        "never the one who asked",
    ),
    "approvals require": Write(
        ("approvals", "require", "churn", "--count", "2"), "admin", "lowering: never whom it binds"
    ),
    "approvals off": Write(("approvals", "off", "--all"), "admin", "never whom it binds"),
    "gc": Write(("gc",), "maintainer", "`--dry-run` reads only"),
    "webhook add": Write(("webhook", "add", "http://127.0.0.1:9/new"), "admin"),
    "webhook remove": Write(("webhook", "remove", "1"), "admin"),
    "webhook test": Write(("webhook", "test", "1"), "admin"),
    "webhook deliver": Write(("webhook", "deliver"), "known"),
    "user add": Write(("user", "add", "newbie"), "admin"),
    "user role": Write(("user", "role", "nora", "maintainer"), "admin"),
    "user email": Write(("user", "email", "nora", "nora@example.com"), "admin"),
    "user deactivate": Write(("user", "deactivate", "nora"), "admin"),
    "user reactivate": Write(("user", "reactivate", "dee"), "admin"),
    "settings set": Write(("settings", "set", "check_stale_hours", "12"), "admin"),
    "token create": Write(("token", "create", "ci", "--for", "nora"), "admin"),
    "token revoke": Write(("token", "revoke", "prom"), "admin"),
    "handoff": Write(("handoff", "churn", "--to", "mia"), "responsible"),
    "handoff tick": Write(("handoff", "tick", "1", "runbook"), "receiver"),
    "handoff accept": Write(("handoff", "accept", "1", "--ack-all"), "receiver"),
    "handoff decline": Write(("handoff", "decline", "1", "--note", "busy"), "receiver"),
    "handoff cancel": Write(("handoff", "cancel", "1"), "sender"),
    "oncall runbook": Write(
        ("oncall", "runbook", "churn", "https://wiki.example.com/churn"), "responsible"
    ),
    "import": Write(("import", "{export}"), "admin", "into an empty database only"),
    "mlflow import": Write(
        ("mlflow", "import", "--tracking-uri", "http://127.0.0.1:9"),
        "maintainer",
        "`--dry-run` reads only",
    ),
    "mlflow sync": Write(("mlflow", "sync"), "known", "`--dry-run` reads only"),
    "mlflow link": Write(
        ("mlflow", "link", "churn", "--tracking-uri", "http://127.0.0.1:9"), "responsible"
    ),
    "mlflow unlink": Write(("mlflow", "unlink", "churn"), "responsible"),
    "demo": Write(("demo", "--no-tui"), "nobody's data", "seeds an empty database only"),
    "init": Write(("init",), "nobody's data", "creates or migrates the schema"),
}
READ_ONLY = {
    "tui",  # its actions are the same use cases as the commands here
    "status",
    "history",
    "builds",
    "tests",
    "deployments",
    "alerts",
    "export",
    "model list",
    "model show",
    "git status",
    "git log",
    "approvals list",
    "webhook list",
    "webhook log",
    "audit verify",
    "audit head",
    "user list",
    "user show",
    "settings list",
    "handoff list",
    "oncall",
    "doctor",
    "token list",
    "mlflow status",
    "serve",  # its requests run the use cases the commands here run, as each token's person
}


def commands() -> set[str]:
    """Every command a user can run, read from the Typer app (groups that act on their
    own, like `mlops handoff NAME --to`, count as commands too)."""

    def walk(cmd: click.Command, path: tuple[str, ...]) -> Iterator[str]:
        if isinstance(cmd, click.Group):
            if path and cmd.invoke_without_command:
                yield " ".join(path)
            for name, sub in cmd.commands.items():
                yield from walk(sub, (*path, name))
        else:
            yield " ".join(path)

    return set(walk(typer.main.get_command(app), ()))


def test_every_command_is_declared() -> None:
    found = commands()
    undeclared = found - set(WRITES) - READ_ONLY
    assert not undeclared, f"declare these read-only or give them a row in WRITES: {undeclared}"
    assert not (set(WRITES) | READ_ONLY) - found, "declared commands that no longer exist"
    assert not set(WRITES) & READ_ONLY


def render() -> str:
    """The README's "Who may do what" table."""
    head = ["command", *PERSONAS, "rule"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for command, write in WRITES.items():
        text, allowed = RULES[write.rule]
        marks = ["✓" if p in allowed else "✗" for p in PERSONAS]
        rule = text + (f" ({write.note})" if write.note else "")
        lines.append(f"| `mlops {command}` | " + " | ".join(marks) + f" | {rule} |")
    return "\n".join(lines) + "\n"


def test_the_readme_prints_this_table() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert render() in readme, "README's 'Who may do what' differs: paste render() into it"


# -- a team to act on ------------------------------------------------------------------------
def as_(ctx: Context, who: str) -> Context:
    return Context(ctx.store, who, clock=ctx.clock)


def seed(url: str) -> None:
    """sam (a maintainer) set the team up: root is the admin, open_join is off, every
    version needs one approval. churn (olly's) is in Deploy with v1, whose approval sam
    asked for; fraud (sam's) is offered to olly in handoff #1; webhook #1 and mia's token
    `prom` exist."""
    store = open_store(url)
    try:
        sam = Context(store, "sam")
        team.add_user(sam, "root", role="admin")
        root = as_(sam, "root")
        for name, role in (("vic", "viewer"), ("dee", "member"), ("nora", "member")):
            team.add_user(root, name, role=role)
        team.add_user(root, "olly", role="member")
        team.add_user(root, "mia", role="maintainer")
        team.deactivate(root, "dee")
        team.set_setting(root, "open_join", "false")
        approvals.require(root, None, 1)
        webhooks.add(root, "http://127.0.0.1:9/hook")
        tokens.create(root, "prom", for_user="mia")
        lifecycle.add_model(sam, "churn", owner="olly")
        lifecycle.add_model(sam, "fraud", owner="sam")
        lifecycle.move(sam, "churn", "build")
        builds.record(sam, "churn", commit="a" * 40, image="reg/churn:1")
        lifecycle.move(sam, "churn", "deploy", force=True, note="tests ran in CI")
        handoffs.request(sam, "fraud", to="olly")
    finally:
        store.close()


def state(url: str) -> tuple[list[tuple[str, dict]], list[tuple[str, str | None, str]]]:
    """Everything but the history, and the history as (actor, model, kind)."""
    store = open_store(url)
    try:
        rows = list(store.dump())
    finally:
        store.close()
    events = [(r["actor"], r["model"], r["kind"]) for kind, r in rows if kind == "event"]
    # The webhook relay's outbox moves after every command, whoever ran it.
    relay = {"webhook_delivery", "webhook_attempt"}
    rest = [
        (k, {c: v for c, v in r.items() if c != "last_event"})
        for k, r in rows
        if k != "event" and k not in relay
    ]
    return rest, events


def run(url: str, who: str, args: tuple[str, ...]) -> tuple[int, str]:
    """`mlops ARGS` in this process as `who`: (exit code, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in ("MLOPS_DB", "MLOPS_USER", "COLUMNS")}
    os.environ.update(MLOPS_DB=url, MLOPS_USER=who, COLUMNS="200")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if not exit_.code else 1)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, err.getvalue()


class Team:
    """A seeded team on one backend, and fresh copies of it for writes that change it."""

    def __init__(self, backend: str, tmp: Path, pg: str | None) -> None:
        self.backend, self.tmp, self.pg = backend, tmp, pg
        self.schemas: list[str] = []
        self.count = 0
        self.template = self.fresh_empty()
        seed(self.template)
        self.export = str(tmp / "team.jsonl")
        store = open_store(self.template)
        try:
            with open(self.export, "w") as f:
                transfer.export(Context(store, "sam"), f)
        finally:
            store.close()
        self.shared = self.copy()  # refusals change nothing, so they share one copy
        self.spare: str | None = None  # a copy an allowed write left as it was

    def unchanged(self) -> str:
        """A copy of the seeded team as it was: the spare one, or a new one."""
        url, self.spare = self.spare or self.copy(), None
        return url

    def fresh_empty(self) -> str:
        if self.backend == "sqlite":
            self.count += 1
            return str(self.tmp / f"team{self.count}.db")
        assert self.pg is not None
        schema, url = new_pg_schema(self.pg)
        self.schemas.append(schema)
        return url

    def copy(self) -> str:
        url = self.fresh_empty()
        if self.backend == "sqlite":
            shutil.copyfile(self.template, url)
            return url
        store = open_store(url)
        try:
            with open(self.export) as f:
                transfer.import_(Context(store, "sam"), f, self.export)
        finally:
            store.close()
        return url

    def close(self) -> None:
        for schema in self.schemas:
            drop_pg_schema(self.pg or "", schema)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crew(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    pg = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    made = Team(request.param, tmp_path_factory.mktemp(f"crew-{request.param}"), pg)
    try:
        yield made
    finally:
        made.close()


@pytest.mark.parametrize("command", list(WRITES))
def test_who_may_do_what(crew: Team, command: str) -> None:
    write = WRITES[command]
    args = tuple(a.replace("{export}", crew.export) for a in write.args)
    _, allowed = RULES[write.rule]
    for persona, who in PERSONAS.items():
        if persona in allowed:
            url = crew.shared if write.rule == "nobody's data" else crew.unchanged()
            before, history = state(url)
            code, err = run(url, who, args)
            after, latest = state(url)
            if url != crew.shared and (after, latest) == (before, history):
                crew.spare = url  # it failed past the gate and wrote nothing: reuse it
            assert code != 7, f"{persona} ({who}) was refused `mlops {command}`: {err}"
            assert "Traceback" not in err and "internal error" not in err, err
            new = latest[len(history) :]
            assert not any(kind == "permission.denied" for _, _, kind in new), new
            if write.rule == "nobody's data":
                assert code == 0 and (after, latest) == (before, history), err
        else:
            before, history = state(crew.shared)
            code, err = run(crew.shared, who, args)
            after, latest = state(crew.shared)
            assert code == 7, f"{persona} ({who}) was not refused `mlops {command}`: {err}"
            assert len(err.strip().splitlines()) == 1 and "may not" in err, err
            assert after == before, f"`mlops {command}` by {persona} changed the state"
            assert latest[len(history) :] == [(who, latest[-1][1], "permission.denied")], (
                "a refusal is recorded, and nothing else"
            )
