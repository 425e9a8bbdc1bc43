"""The user's TUI preferences (the theme), kept next to the rest of their config."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from mlops_tui import config


def path() -> Path:
    return config.config_dir() / "tui.json"


def load() -> dict[str, Any]:
    """The saved preferences; an unreadable file is ignored rather than blocking start-up."""
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(**changes: Any) -> None:
    """Merge `changes` into the file. Failing to save a preference is never fatal."""
    data = {**load(), **changes}
    target = path()
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(target)
