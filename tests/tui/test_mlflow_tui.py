"""MLflow in the TUI, against a real local MLflow registry: a model's page shows each MLflow
version's run, metrics and aliases, and the palette syncs with MLflow without leaving the app.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from mlops_tui.services import lifecycle, mlflow_bridge, queries
from mlops_tui.services.context import Context
from mlops_tui.store import open_store
from mlops_tui.tui.app import MlopsApp
from mlops_tui.tui.screens.detail import DetailScreen
from mlops_tui.tui.widgets.detail.versions import Versions, compact, metrics_text
from tests.mlflowstack import add_version, move_alias, seed
from tests.tui.helpers import NOW, fixed_now, text_of, wait_for

IRIS = "iris-classifier"


def _import(tmp_path: Path, uri: str) -> str:
    """An mlops database holding what `uri`'s registry has, imported by alice an hour ago."""
    url = str(tmp_path / "mlops.db")
    with open_store(url) as store:
        ctx = Context(store, "alice", clock=lambda: NOW - timedelta(hours=1))
        mlflow_bridge.import_registry(ctx, uri)
    return url


def _run_ids(url: str, name: str) -> dict[int, str]:
    with open_store(url) as store:
        found, _ = queries.mlflow_versions(Context(store, "alice"), name)
    return {n: v.run_id or "" for n, v in found.items()}


@pytest.fixture
def iris(tmp_path: Path, mlflow_local: str) -> tuple[str, str]:
    """(mlops database, MLflow URI): Iris Classifier's three versions imported, v2 serving,
    @champion on v3; and a model built here, with no MLflow data."""
    seed(mlflow_local, "Iris Classifier", 3, aliases={"production": 2, "champion": 3})
    url = _import(tmp_path, mlflow_local)
    with open_store(url) as store:
        lifecycle.add_model(Context(store, "alice", clock=fixed_now), "plain", owner="alice")
    return url, mlflow_local


def _app(url: str) -> MlopsApp:
    return MlopsApp(url, actor="alice", clock=fixed_now)


async def _open(pilot: Pilot[Any], name: str) -> DetailScreen:
    app = pilot.app
    assert isinstance(app, MlopsApp)
    await wait_for(pilot, lambda: app.snapshot is not None)
    app.open_model(name)
    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.model)
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    return screen


async def _palette(pilot: Pilot[Any], query: str) -> list[str]:
    """Open the palette and type `query`; returns the entries it offers, best first."""
    await pilot.press("ctrl+p")
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    await pilot.press(*query)
    commands = palette.query_one(CommandList)
    await wait_for(pilot, lambda: commands.option_count > 0)
    await pilot.pause(0.3)
    return [
        str(commands.get_option_at_index(i).prompt).split("\n")[0]
        for i in range(commands.option_count)
    ]


def _notes(app: MlopsApp, title: str) -> list[str]:
    return [str(n.message) for n in app._notifications if n.title == title]


def test_metrics_are_the_first_three_by_name_in_a_few_characters() -> None:
    metrics = {"loss": 0.12345, "f1": 0.88, "accuracy": 0.92, "rmse": 12345.0, "auc": 1.0}
    assert metrics_text(metrics).plain == "accuracy 0.92 · auc 1 · f1 0.88 +2"
    assert [compact(x) for x in (0.9234, 123.4, 12345.0, 2.5e6, -0.5)] == [
        "0.923",
        "123",
        "12.3k",
        "2.5M",
        "-0.5",
    ]


async def test_the_versions_panel_shows_each_mlflow_versions_run_metrics_and_aliases(
    iris: tuple[str, str],
) -> None:
    url, _ = iris
    runs = _run_ids(url, IRIS)
    app = _app(url)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await _open(pilot, IRIS)
        text = text_of(screen.query_one(Versions))
        lines = text.splitlines()
        assert any(line.split() == ["MLflow", "Iris", "Classifier"] for line in lines)
        for n in (1, 2, 3):
            assert f"run {runs[n][:8]} by alice" in text
        v3 = next(i for i, line in enumerate(lines) if line.strip().startswith("v3"))
        assert "@champion" in lines[v3] and "@production" not in lines[v3]
        assert lines[v3 + 2].strip() == "accuracy 0.93 · loss 0.47"  # the final values
        assert lines[v3 + 3].strip() == "depth=3, lr=0.03"  # runs:/… is the run line's
        v2 = next(i for i, line in enumerate(lines) if "v2" in line and "@" in line)
        assert lines[v2].startswith("★ v2  @production")

        app.open_model("plain")  # built here: no MLflow lines
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.model)
        plain = text_of(app.screen.query_one(Versions))
        assert "MLflow" not in plain and "no versions yet" in plain


async def test_the_panel_fits_80_columns_without_wrapping(iris: tuple[str, str]) -> None:
    url, _ = iris
    app = _app(url)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, IRIS)
        panel = screen.query_one(Versions)
        await pilot.pause()
        text = text_of(panel, width=panel.content_region.width)
        assert "…" in text  # cut, each version's lines still one each
        lines = text.splitlines()
        starts = [line.split()[0] for line in lines if line.strip()]
        assert starts[:3] == ["Current", "Production", "MLflow"]
        # per version: its head, run, metrics and parameters, nothing wrapped in between
        assert [s for s in starts[3:] if s not in ("run", "accuracy", "depth=3,", "depth=2,")] == [
            "v3",
            "★",
            "v1",
            "depth=1,",
        ]


async def test_palette_sync_brings_new_versions_and_warns_of_drift(
    iris: tuple[str, str],
) -> None:
    url, uri = iris
    app = _app(url)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await _open(pilot, IRIS)
        assert "v4" not in text_of(screen.query_one(Versions))
        add_version(uri, "Iris Classifier")  # a teammate registers v4 in MLflow
        move_alias(uri, "Iris Classifier", "production", 3)  # and points @production at v3

        offered = await _palette(pilot, "mlflow")
        assert offered == ["mlflow: Sync", f"mlflow: Sync {IRIS}"]
        await pilot.press("enter")  # the best entry: every linked model

        await wait_for(pilot, lambda: _notes(app, "MLflow sync"), timeout=20)
        assert _notes(app, "MLflow sync") == [f"MLflow: 1 new version, 1 alias moved ({IRIS})"]
        assert _notes(app, "MLflow drift") == [
            f"{IRIS}: @production points at v3 in MLflow; production here is v2"
        ]
        panel = screen.query_one(Versions)
        await wait_for(pilot, lambda: "v4" in text_of(panel), timeout=5)
        runs = _run_ids(url, IRIS)
        text = text_of(panel)
        assert f"run {runs[4][:8]} by alice" in text
        v3 = next(line for line in text.splitlines() if line.strip().startswith("v3"))
        assert "@production" in v3 and "@champion" in v3
        assert "Current     v4" in text and "Production  v2" in text  # production moves here only

        offered = await _palette(pilot, "mlflow: Sync iris")
        assert offered[0] == f"mlflow: Sync {IRIS}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(_notes(app, "MLflow sync")) == 2, timeout=20)
        assert _notes(app, "MLflow sync")[1] == f"MLflow: {IRIS} is up to date"


async def test_only_a_linked_models_page_offers_its_own_sync(iris: tuple[str, str]) -> None:
    url, _ = iris
    app = _app(url)
    async with app.run_test(size=(120, 35)) as pilot:
        await _open(pilot, "plain")
        assert await _palette(pilot, "mlflow") == ["mlflow: Sync"]


async def test_a_sync_with_nothing_linked_says_so(tmp_path: Path) -> None:
    url = str(tmp_path / "plain.db")
    with open_store(url) as store:
        lifecycle.add_model(Context(store, "alice", clock=fixed_now), "plain", owner="alice")
    app = _app(url)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        assert (await _palette(pilot, "mlflow"))[0] == "mlflow: Sync"
        await pilot.press("enter")
        await wait_for(pilot, lambda: _notes(app, "MLflow sync"), timeout=10)
        assert _notes(app, "MLflow sync") == ["MLflow: no model is linked yet"]


async def test_an_unreachable_registry_is_an_error_notification_not_a_crash(
    iris: tuple[str, str],
) -> None:
    url, uri = iris
    path = Path(uri.removeprefix("sqlite:///"))
    path.rename(path.with_name("gone.db"))  # the registry goes away
    app = _app(url)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await _open(pilot, IRIS)
        await _palette(pilot, "mlflow: Sync")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: any(n.severity == "error" for n in app._notifications), timeout=20
        )
        await pilot.pause(0.2)  # and nothing else goes wrong after it
        errors = [n for n in app._notifications if n.severity == "error"]
        assert [n.title for n in errors] == ["MLflow"]
        assert f"no MLflow database at {path}" in str(errors[0].message)
        assert "--" not in str(errors[0].message)  # the TUI's words: no CLI flags
        assert app.screen is screen and app.problem is None  # the database is fine
        assert "run " in text_of(screen.query_one(Versions))  # what was imported still shows


# -- the snapshot --------------------------------------------------------------------------


@contextmanager
def _fixed_run_ids() -> Iterator[None]:
    """MLflow names runs with uuid4: seeded, the same run ids (and snapshot) every time."""
    rng = random.Random(20260504)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))
        yield


def test_detail_of_an_imported_model(snap_compare, tmp_path: Path, mlflow_local: str) -> None:
    with _fixed_run_ids():
        seed(mlflow_local, "Iris Classifier", 3, aliases={"production": 2, "champion": 3})
    url = _import(tmp_path, mlflow_local)

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await _open(pilot, IRIS)
        await wait_for(pilot, lambda: "run " in text_of(screen.query_one(Versions)))
        await pilot.pause()

    assert snap_compare(_app(url), terminal_size=(120, 35), run_before=run_before)
