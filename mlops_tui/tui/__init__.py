"""The terminal UI. Imported only when a TUI opens, never on the lean status path."""

from __future__ import annotations


def run(db: str | None = None) -> None:
    """Open the TUI on `db`, else MLOPS_DB, else the default SQLite file."""
    from mlops_tui import config
    from mlops_tui.tui.app import MlopsApp

    MlopsApp(config.database_url(db), actor=config.current_actor()).run()
