"""TUI fixtures: a demo team seeded at a fixed time in a temporary SQLite file."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mlops_tui.services.demo import seed
from mlops_tui.store import open_store
from tests.tui.helpers import NOW


@pytest.fixture(autouse=True)
def _stable_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Colours on (snapshots show stage colours) and UTC, so local times do not vary."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = open_store(str(path))
    try:
        seed(store, models=24, now=NOW)
    finally:
        store.close()  # the last connection to close folds the WAL into the file
    return path.read_bytes()


@pytest.fixture
def demo_db(tmp_path, _demo_template: bytes) -> str:
    """A fresh copy of the demo database for each test (seeding once is much faster)."""
    path = tmp_path / "mlops.db"
    path.write_bytes(_demo_template)
    return str(path)
