"""mlops-tui: the shared source of truth for where each of a team's models stands."""

__version__ = "0.1.0"
