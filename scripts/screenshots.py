"""SVG screenshots of the TUI's main screens, from the real app on the demo team.

The data is seeded at a fixed time and the app runs on the same fixed clock, so the pictures
only change when the TUI does. Writes screenshots/{board,help,move,detail,models,oncall,
inbox,alerts}.svg.

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


async def shoot(db: str, out: Path, size: tuple[int, int], showcase: str) -> list[Path]:
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
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="120x36", help="terminal size, COLSxROWS")
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    args = parser.parse_args()
    cols, rows = (int(n) for n in args.size.lower().split("x"))
    os.environ["TZ"] = "UTC"  # local times in the history are shown in UTC
    time.tzset()
    os.environ.pop("NO_COLOR", None)

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
            # The most eventful model in production: the detail shot shows its health.
            serving = [m for m in store.list_models() if m.production_version is not None]
            showcase = max(serving, key=lambda m: (m.health != "ok", m.name)).name
        for path in asyncio.run(shoot(db, out, (cols, rows), showcase)):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
