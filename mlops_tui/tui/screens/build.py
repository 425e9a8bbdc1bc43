"""A build, live: the Docker log as it streams, searchable, with a key to cancel.

The log screen itself is JobScreen (screens/job.py), shared with test runs and deploys; a
build is the job that runs `builds.build` at a ref.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops_tui.services import builds
from mlops_tui.services.context import Context
from mlops_tui.tui.screens.job import RUNNING, JobScreen

__all__ = ["RUNNING", "BuildScreen"]


class BuildScreen(JobScreen[builds.BuildResult]):
    SUB_TITLE = "Build"
    job = "build"

    def __init__(self, name: str, ref: str = "HEAD") -> None:
        super().__init__(name)
        self.ref = ref

    def starting(self) -> str:
        return f"Building {self.model_name} at {self.ref}…"

    def run_job(self, ctx: Context, on_line: Callable[[str], None]) -> builds.BuildResult:
        return builds.build(ctx, self.model_name, ref=self.ref, cancel=self.cancel, on_line=on_line)

    def describe(self, result: builds.BuildResult) -> tuple[str, str, list[str]]:
        b = result.build
        text = f"{b.model} v{b.version} built from {b.commit[:12]} as {b.image}"
        return text, f"Build #{b.id} succeeded", result.warnings
