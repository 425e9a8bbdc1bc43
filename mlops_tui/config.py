"""Where the state lives and who is acting, resolved the same way by the CLI and the TUI."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING

from mlops_tui.domain import validate_user
from mlops_tui.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

APP_NAME = "mlops-tui"


def data_dir() -> str:
    from platformdirs import user_data_dir

    return user_data_dir(APP_NAME, appauthor=False)


def config_dir() -> Path:
    from pathlib import Path  # not at the top: pathlib costs `mlops status` ~7 ms

    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def default_db() -> str:
    return os.path.join(data_dir(), "mlops.db")


def database_url(explicit: str | None = None) -> str:
    """--db, else MLOPS_DB, else the SQLite file in the user's data directory."""
    url = explicit or os.environ.get("MLOPS_DB") or default_db()
    return os.path.expanduser(url) if not url.startswith(("postgres", "sqlite:")) else url


def current_actor() -> str:
    """MLOPS_USER, else the OS login name: who each event is attributed to."""
    name = os.environ.get("MLOPS_USER")
    if name:
        return validate_user(name, "MLOPS_USER")
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        raise InvalidInput("cannot tell who you are: set MLOPS_USER") from None
    return validate_user(name, "login name")
