"""Which version is being worked on, which one serves traffic, and what each was built from:
a version is code + data + parameters, so the panel shows all three next to the image.

A version that came from MLflow was trained there, not built here: instead of an image it
shows the training run and who ran it, the run's headline metrics, and the aliases MLflow
gives it, since those are what a team reading MLflow's own UI knows the version by."""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlops_tui.domain import Model, Version
from mlops_tui.domain.mlflow import MlflowLink, MlflowVersion
from mlops_tui.tui.colors import version
from mlops_tui.tui.widgets.detail.panel import Panel

SHOWN = 5
#: metrics shown per version: a glance, not the run page
METRICS_SHOWN = 3
#: MLflow run ids are 32 hex digits; 8 tell runs apart on one model
RUN_ID_SHOWN = 8
#: aliases stand out from the dim lines around them; orange is no stage's or health's colour
ALIAS_STYLE = "bold #f0a35e"


def compact(value: float) -> str:
    """A metric in at most a few characters: 0.92, 0.923, 12.3, 1.2k, 3.4M."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.3g}G"
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e4:
        return f"{value / 1e3:.3g}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def metrics_text(metrics: dict[str, float]) -> Text:
    """The first few metrics by name, and how many more the run logged."""
    names = sorted(metrics)
    text = Text(" · ".join(f"{k} {compact(metrics[k])}" for k in names[:METRICS_SHOWN]))
    if len(names) > METRICS_SHOWN:
        text.append(f" +{len(names) - METRICS_SHOWN}", style="dim")
    return text


def _line(text: Text | str, style: str = "") -> Text:
    """One line that is cut, never wrapped: a wrapped line reads as another version's."""
    line = Text(text, style=style) if isinstance(text, str) else text
    line.no_wrap = True
    line.overflow = "ellipsis"
    return line


class Versions(Panel):
    def __init__(self) -> None:
        super().__init__("Versions", id="versions")
        #: the model shown, when it is linked to MLflow: the palette offers its sync
        self.linked: str | None = None

    def show(
        self,
        model: Model,
        versions: list[Version] | None = None,
        mlflow: dict[int, MlflowVersion] | None = None,
        aliases: dict[int, list[str]] | None = None,
        link: MlflowLink | None = None,
    ) -> None:
        self.linked = model.name if link is not None else None
        mlflow = mlflow or {}
        aliases = aliases or {}
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        grid.add_row("Current", version(model.version))
        grid.add_row("Production", version(model.production_version))
        if link is not None:
            grid.add_row("MLflow", _line(link.registered_model))
        if not versions:
            hint = "no versions yet: b builds one" if model.repo else "no versions yet"
            self.update(Group(grid, Text(hint, style="dim")))
            return
        lines: list[Text] = []
        for v in versions[:SHOWN]:
            found = mlflow.get(v.number)
            if found is None:
                lines += self._built(v, model)
            else:
                lines += self._from_mlflow(v, model, found, aliases.get(v.number, []))
        more = len(versions) - SHOWN
        parts: list[RenderableType] = [grid, Text(""), *lines]
        if more > 0:
            parts.append(Text(f"  and {more} older (T: time travel)", style="dim"))
        self.update(Group(*parts))

    @staticmethod
    def _star(v: Version, model: Model) -> Text:
        serving = v.number == model.production_version
        line = Text("★ " if serving else "  ", style="bold green")
        line.append(f"v{v.number}", style="bold")
        return line

    @staticmethod
    def _inputs(v: Version) -> list[Text]:
        params = ", ".join(f"{k}={val}" for k, val in sorted(v.params.items()))
        inputs = " · ".join(x for x in (v.data_ref, params) if x)
        return [_line(f"    {inputs}", "dim")] if inputs else []

    def _built(self, v: Version, model: Model) -> list[Text]:
        line = self._star(v, model)
        line.append(f"  {(v.commit or '-')[:10]}", style="cyan")
        line.append(f"  {v.created_by}", style="italic")
        image = Text(f"    {v.image or 'no image'}", overflow="ellipsis", no_wrap=True)
        return [line, image, *self._inputs(v)]

    def _from_mlflow(
        self, v: Version, model: Model, found: MlflowVersion, aliases: list[str]
    ) -> list[Text]:
        head = self._star(v, model)
        for i, alias in enumerate(aliases):
            head.append(" " if i else "  ")
            head.append(f"@{alias}", style=ALIAS_STYLE)
        if v.commit:
            head.append(f"  {v.commit[:10]}", style="cyan")
        run = Text("    ")
        if found.run_id:
            run.append("run ")
            run.append(found.run_id[:RUN_ID_SHOWN], style="cyan")
        else:
            run.append("no run", style="dim")
        if found.author:
            run.append(" by ")
            run.append(found.author, style="italic")
        if found.mlflow_version != str(v.number):
            run.append(f" (MLflow's version {found.mlflow_version})", style="dim")
        lines = [_line(head), _line(run)]
        if v.image:
            lines.append(_line(f"    {v.image}"))
        if found.metrics:
            lines.append(_line(Text("    ").append_text(metrics_text(found.metrics))))
        # The parameters first: a model saved by its own run is `runs:/<run id>/...`, which
        # the run line already says.
        params = ", ".join(f"{k}={val}" for k, val in sorted(v.params.items()))
        ref = v.data_ref
        if ref and found.run_id and ref.startswith(f"runs:/{found.run_id}/"):
            ref = None
        inputs = " · ".join(x for x in (params, ref) if x)
        if inputs:
            lines.append(_line(f"    {inputs}", "dim"))
        return lines
