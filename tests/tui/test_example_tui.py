"""The demo's example model round the loop with the keys alone, as a newcomer reads them in
its README: from the board, m to Build, open it, b; m to Test, t; m to Deploy, d (and y);
m to Monitor, C. Real Git, a real Docker engine, offline; at 80x24, the smallest terminal."""

from __future__ import annotations

from pathlib import Path

from mlops_tui.domain import Health, Stage
from mlops_tui.services import example
from mlops_tui.services.context import Context
from mlops_tui.store import open_store, schema
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.screens.confirm import ConfirmScreen
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.screens.job import JobScreen
from mlops_tui.tui.screens.move import MoveScreen
from tests.loop_model import get, remove_containers
from tests.tui.helpers import async_test, loaded, wait_for

#: A build, a test run or a deploy with its health wait: generous, yet bounded.
SLOW = 90


def port_of(repo: str) -> int:
    config = (Path(repo) / "mlops.toml").read_text()
    return int(next(line for line in config.splitlines() if line.startswith("port")).split("=")[1])


def stage_of(db: str) -> Stage:
    with open_store(db) as store:
        return store.get_model(example.NAME).stage


@async_test
async def test_the_example_goes_round_the_loop_from_the_keys(
    tmp_path, base_image, docker_client
) -> None:
    db = str(tmp_path / "demo.db")
    with open_store(db) as store:
        made = example.create(Context(store, "newcomer"), str(tmp_path)).model
    port = port_of(made.repo)
    app = MlopsApp(db, actor="newcomer")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            app.open_model(example.NAME)

            async def settled() -> None:
                """The page shows the model as the database has it now: a key pressed on
                an older view would act on it, and the move would be refused as stale."""

                def current() -> bool:
                    page = app.screen
                    if not isinstance(page, DetailScreen) or page.model is None:
                        return False
                    with open_store(db) as store:
                        stored = store.get_model(example.NAME)
                    return page.model.revision == stored.revision

                await wait_for(pilot, current, timeout=10)

            async def move_on(to: Stage) -> None:
                await settled()
                await pilot.press("m")
                await wait_for(pilot, lambda: isinstance(app.screen, MoveScreen), timeout=10)
                await pilot.press("enter")  # the next stage is offered first
                await wait_for(pilot, lambda: stage_of(db) == to, timeout=10)
                await settled()

            async def run(key: str, confirm: bool = False) -> str:
                await settled()
                await pilot.press(key)
                if confirm:  # a deploy names the version and the target first
                    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10)
                    await pilot.press("y")
                await wait_for(pilot, lambda: isinstance(app.screen, JobScreen), 10)
                job = app.screen
                assert isinstance(job, JobScreen)
                await wait_for(pilot, lambda: not job.running, timeout=SLOW)
                status = str(job.query_one("#build-status").render())
                await pilot.press("escape")
                await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
                return status

            await move_on(Stage.BUILD)
            assert "built from" in await run("b")
            await move_on(Stage.TEST)
            assert "passed" in await run("t")
            await move_on(Stage.DEPLOY)
            assert "deployed" in await run("d", confirm=True)
            assert get(port, "/health") == (200, "ok\n")
            await move_on(Stage.MONITOR)
            await settled()
            await pilot.press("C")
            await wait_for(
                pilot,
                lambda: any(n.title == f"Checked {example.NAME}" for n in app._notifications),
                timeout=SLOW,
            )
        with open_store(db) as store:
            model = store.get_model(example.NAME)
            assert (model.stage, model.production_version, model.health) == (
                Stage.MONITOR,
                1,
                Health.OK,
            )
            (check,) = store.rows(schema.CHECKS, model=example.NAME)
            assert (check.actor, check.version, check.health) == ("newcomer", 1, Health.OK)
    finally:
        remove_containers(docker_client, example.NAME)
