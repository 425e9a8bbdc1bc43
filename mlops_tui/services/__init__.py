"""Use cases: the one place each action is implemented, for the CLI and the TUI alike."""

from mlops_tui.services.context import Context

__all__ = ["Context"]
