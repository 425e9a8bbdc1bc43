"""The red bar that says the database cannot be reached, on whichever screen is showing."""

from __future__ import annotations

from textual.widgets import Static


class Banner(Static):
    """Hidden while the database answers; the app publishes its state to every banner."""

    DEFAULT_CSS = """
    Banner {
        height: auto;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
        display: none;
    }
    Banner.-shown { display: block; }
    """

    def on_mount(self) -> None:
        app = self.app
        self.show_problem(getattr(app, "problem", None))
        signal = getattr(app, "problem_signal", None)
        if signal is not None:
            signal.subscribe(self, self.show_problem)

    def show_problem(self, problem: str | None) -> None:
        if problem:
            self.update(f"Database unreachable: {problem}; retrying every second")
        self.set_class(bool(problem), "-shown")
