"""The terminal UI. Imported only by `mlops tui` and friends, never on `mlops status`'s path."""

from __future__ import annotations


def run(db: str | None = None) -> None:
    """Open the TUI on `db`, else MLOPS_DB, else the default SQLite file."""
    from mlops_tui import config
    from mlops_tui.tui.app import MlopsApp

    MlopsApp(config.database_url(db), actor=config.current_actor()).run()
