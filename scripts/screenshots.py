"""SVG screenshots of the TUI's main screens, from the real app on the demo team.

The data is seeded at a fixed time and the app runs on the same fixed clock, so the pictures
only change when the TUI does. Writes screenshots/{board,help,move,detail,models,oncall,
inbox,alerts}.svg, and, with a Docker engine, build.svg and deploy.svg: the demo's example
model building and deploying, its log streaming.

    .venv/bin/python scripts/screenshots.py [--size 120x36]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


async def shoot(
    db: str, out: Path, size: tuple[int, int], showcase: str, with_engine: bool
) -> list[Path]:
    from mlops_tui.tui.app import MlopsApp
    from mlops_tui.tui.screens.detail import DetailScreen

    app = MlopsApp(db, actor="demo", clock=lambda: NOW, poll_interval=3600)
    written = []

    async def save(name: str) -> None:
        await pilot.pause(0.2)
        path = out / f"{name}.svg"
        path.write_text(app.export_screenshot(title=f"mlops: {name}"), encoding="utf-8")
        written.append(path)

    async with app.run_test(size=size) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.05)
        await pilot.press("l", "j")
        await save("board")
        await pilot.press("question_mark")
        await save("help")
        await pilot.press("escape", "m", "up")
        await save("move")
        await pilot.press("escape", "escape")
        # The model page of one in production: health, its metric's sparkline, versions.
        app.open_model(showcase)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        while screen.model is None:
            await pilot.pause(0.05)
        await save("detail")
        await pilot.press("escape", "2", "j", "j")
        await save("models")
        for key, view in (("3", "oncall"), ("4", "inbox"), ("5", "alerts")):
            await pilot.press(key)
            await save(view)
        if with_engine:
            await pilot.press("1")
            await the_loop(app, pilot, save, db)
    return written


async def the_loop(app, pilot, save, db: str) -> None:
    """The example model built and deployed from its page, each log streaming to its end."""
    from mlops_tui.services import example, lifecycle, testing
    from mlops_tui.services.context import Context
    from mlops_tui.store import open_store
    from mlops_tui.tui.screens.confirm import ConfirmScreen
    from mlops_tui.tui.screens.job import JobScreen

    async def run(key: str, name: str, confirm: bool = False) -> None:
        await pilot.press(key)
        if confirm:  # the deploy names its version and target first
            while not isinstance(app.screen, ConfirmScreen):
                await pilot.pause(0.05)
            await pilot.press("y")
        while not isinstance(app.screen, JobScreen) or app.screen.running:
            await pilot.pause(0.1)
        await save(name)
        await pilot.press("escape")

    with open_store(db) as store:  # the steps between the shots, as a teammate's CLI would
        ctx = Context(store, "demo", clock=lambda: NOW)
        lifecycle.move(ctx, example.NAME, "build")
        app.open_model(example.NAME)
        await run("b", "build")
        lifecycle.move(ctx, example.NAME, "test")
        testing.run(ctx, example.NAME)
        lifecycle.move(ctx, example.NAME, "deploy")
        await pilot.pause(1.5)  # the page sees the new stage
        await run("d", "deploy", confirm=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="120x36", help="terminal size, COLSxROWS")
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    args = parser.parse_args()
    cols, rows = (int(n) for n in args.size.lower().split("x"))
    os.environ["TZ"] = "UTC"  # local times in the history are shown in UTC
    time.tzset()
    os.environ.pop("NO_COLOR", None)

    from mlops_tui.services import example
    from mlops_tui.services.context import Context
    from mlops_tui.services.demo import seed
    from mlops_tui.store import open_store

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # The config folder too: the user's saved theme must not leak into the pictures.
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        db = str(Path(tmp) / "demo.db")
        with open_store(db) as store:
            seed(store, models=24, now=NOW, me="demo")
            example.create(Context(store, "demo", clock=lambda: NOW), tmp)
            # The most eventful model in production: the detail shot shows its health.
            serving = [m for m in store.list_models() if m.production_version is not None]
            showcase = max(serving, key=lambda m: (m.health != "ok", m.name)).name
        why = example.docker_note()
        if why is not None:
            print(f"no build.svg or deploy.svg: {why}", file=sys.stderr)
        try:
            shots = asyncio.run(shoot(db, out, (cols, rows), showcase, why is None))
        finally:
            if why is None:
                stop_example_container()
        for path in shots:
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def stop_example_container() -> None:
    """The deploy shot leaves the example serving: nothing is left running afterwards."""
    from mlops_tui.adapters.docker_engine import DockerEngine
    from mlops_tui.services import deploys, example

    engine = DockerEngine()
    try:
        for name in (deploys.container_name(example.NAME),):
            found = engine.container(name)
            if found is not None:
                engine.remove(found)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
