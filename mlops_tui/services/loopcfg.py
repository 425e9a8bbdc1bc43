"""Which version a loop action is about, and the mlops.toml committed with it.

Tests, deploys and checks read the configuration of the version they act on, never the
working copy: the version that serves is checked by the rules it was built with.
"""

from __future__ import annotations

from mlops_tui import modelconfig
from mlops_tui.domain import Model, Version
from mlops_tui.errors import InvalidInput
from mlops_tui.services.context import Context
from mlops_tui.store import schema

_CACHE: dict[tuple[str, str], modelconfig.ModelConfig] = {}


def version_of(ctx: Context, model: Model, number: int | None) -> Version:
    """The model's version `number` (default: its candidate). Raises InvalidInput."""
    number = model.version if number is None else number
    if number is None:
        raise InvalidInput(
            f"{model.name} has no version yet: build it first", cli=f"`mlops build {model.name}`"
        )
    for v in ctx.store.rows(schema.VERSIONS, model=model.name, order="number DESC"):
        if v.number == number:
            return v
    raise InvalidInput(
        f"{model.name} has no version v{number}", cli=f"see `mlops model show {model.name}`"
    )


def config_of(model: Model, version: Version) -> modelconfig.ModelConfig:
    """mlops.toml as committed with `version`; defaults when the model has no local repo."""
    if not model.repo or not version.commit or "://" in model.repo or model.repo.startswith("git@"):
        return modelconfig.ModelConfig()
    key = (model.repo, version.commit)
    if key not in _CACHE:
        from mlops_tui.adapters.git_repo import GitRepo

        raw = GitRepo(model.repo).read(version.commit, modelconfig.FILENAME)
        _CACHE[key] = modelconfig.parse(
            raw.decode() if raw is not None else None,
            f"{modelconfig.FILENAME} at {version.commit[:12]}",
        )
    return _CACHE[key]
