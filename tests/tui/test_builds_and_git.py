"""Builds and Git from the keyboard: a real Docker engine, a real repository and remote."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from textual.widgets import Log, Static

from mlops_tui.services import builds, lifecycle, queries
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.screens.build import BuildScreen
from mlops_tui.tui.screens.git import GitScreen


async def until(predicate, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


@pytest.fixture
def db(tmp_path, gitrepo, docker_client) -> str:
    url = str(tmp_path / "tui.db")
    gitrepo.commit("first", Dockerfile="FROM scratch\nCOPY m.txt /m.txt\n", **{"m.txt": "1"})
    gitrepo.repo.git.push("--set-upstream", "origin", "main")
    with open_store(url) as store:
        ctx = Context(store, "alice")
        lifecycle.add_model(ctx, "churn", owner="alice", repo=str(gitrepo.path))
        lifecycle.move(ctx, "churn", "build")
    return url


def state(url: str):
    with open_store(url) as store:
        ctx = Context(store, "x")
        return queries.model(ctx, "churn"), builds.builds(ctx, "churn")


async def test_build_from_the_keyboard_streams_the_log_and_records_the_version(db) -> None:
    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(120, 35)) as pilot:
        screen = BuildScreen("churn")
        await app.push_screen(screen)
        await until(lambda: not screen.running)
        await pilot.pause()
        log = screen.query_one(Log)
        assert any("Successfully tagged churn:v1" in line for line in log.lines)
        assert "churn v1 built from" in str(screen.query_one("#build-status", Static).render())
        await pilot.press("slash")
        await pilot.press(*"tagged", "enter")
        assert "match 1/1" in str(screen.query_one("#build-status", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, BuildScreen)
    model, (build,) = state(db)
    assert (model.version, build.status, build.actor) == (1, "succeeded", "alice")


async def test_cancel_a_build_from_the_keyboard(db, gitrepo, base_image) -> None:
    gitrepo.commit("slow", Dockerfile=f"FROM {base_image}\nRUN echo {uuid.uuid4()} && sleep 30\n")
    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(120, 35)) as pilot:
        screen = BuildScreen("churn")
        await app.push_screen(screen)
        await until(lambda: len(screen.query_one(Log).lines) >= 2)
        await pilot.press("c")
        await pilot.press("y")
        await until(lambda: not screen.running)
    _, (build,) = state(db)
    assert build.status == "cancelled"


async def test_git_panel_tags_commits_and_pushes_after_confirming(db, gitrepo) -> None:
    with open_store(db) as store:
        builds.record(
            Context(store, "alice"),
            "churn",
            commit=gitrepo.repo.head.commit.hexsha,
            image="reg/churn:1",
        )
    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(120, 35)) as pilot:
        screen = GitScreen("churn")
        await app.push_screen(screen)
        text = lambda: str(screen.query_one("#git-state", Static).render())  # noqa: E731
        await until(lambda: "branch main" in text())
        await pilot.press("t")
        await until(lambda: "churn@v1.0.0" in gitrepo.repo.tags)
        gitrepo.write("m.txt", "2")
        await pilot.press("r")
        await until(lambda: "uncommitted: m.txt" in text())
        await pilot.press("c")
        await pilot.press(*"retrain", "enter")
        await until(lambda: gitrepo.repo.head.commit.summary == "retrain")
        await pilot.press("P")
        await pilot.press("n")  # declined: nothing leaves the machine
        await pilot.pause(0.3)
        assert "churn@v1.0.0" not in gitrepo.remote.tags
        await pilot.press("P")
        await pilot.press("y")
        await until(lambda: "churn@v1.0.0" in gitrepo.remote.tags)
        await until(lambda: "ahead 0" in text())
    kinds = [e.kind for e in queries.history(Context(open_store(db), "x"), model="churn", limit=3)]
    assert kinds == ["git.push", "git.commit", "git.tag"]


async def test_b_on_a_model_builds_it_and_its_versions_show_what_went_in(db) -> None:
    from mlops_tui.tui.screens.detail import DetailScreen
    from mlops_tui.tui.widgets.detail.versions import Versions
    from tests.tui.helpers import text_of

    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(120, 35)) as pilot:
        app.open_model("churn")
        await until(lambda: isinstance(app.screen, DetailScreen) and app.screen.model is not None)
        await pilot.press("b")
        assert isinstance(app.screen, BuildScreen)
        build_screen = app.screen
        await until(lambda: not build_screen.running)
        await pilot.press("escape")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        sha = state(db)[1][0].commit
        await until(lambda: sha[:10] in text_of(detail.query_one(Versions)))
        shown = text_of(detail.query_one(Versions))
        assert "v1" in shown and "churn:v1" in shown
        await pilot.press("g")
        assert isinstance(app.screen, GitScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DetailScreen)


async def test_build_and_git_keys_explain_a_model_without_a_repository(db) -> None:
    from mlops_tui.tui.screens.detail import DetailScreen

    with open_store(db) as store:
        lifecycle.add_model(Context(store, "alice"), "no-repo", owner="alice")
    app = MlopsApp(db, actor="alice")
    async with app.run_test(size=(120, 35)) as pilot:
        app.open_model("no-repo")
        await until(lambda: isinstance(app.screen, DetailScreen) and app.screen.model is not None)
        await pilot.press("b")
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        messages = [n.message for n in app._notifications]
        assert sum("no repository" in m for m in messages) == 2
