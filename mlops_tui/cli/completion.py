"""Shell completion of what only the database knows: model names, people, stages, roles and
settings. `mlops --install-completion` sets it up; the shell then runs `mlops` with
`_MLOPS_COMPLETE` set, and only then is this module loaded, so no other command pays for it.

What a parameter completes is one table, keyed by the command's path and the parameter's
name, falling back to the group's first word, then to the parameter's name alone: a new
command taking `NAME` completes model names without a line here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

from mlops_tui.domain import STAGES, Role, UserRole

if TYPE_CHECKING:
    from mlops_tui.store import Store

Source = Callable[[click.Context], Iterable[str]]


def _open(ctx: click.Context) -> Store | None:
    """The store the command line names (`--db`, else $MLOPS_DB), opened to read only; None
    when it is missing or unreachable: a completion never creates a database or waits."""
    from mlops_tui import config
    from mlops_tui.store import is_postgres_url, open_store, sqlite_path

    url = config.database_url(ctx.find_root().params.get("db"))
    if not is_postgres_url(url) and not os.path.exists(sqlite_path(url)):
        return None
    try:
        return open_store(url, migrate=False, read_only=True)
    except Exception:  # a completion that fails offers nothing, never a traceback
        return None


def _from_store(read: Callable[[Store], Iterable[str]]) -> Source:
    def source(ctx: click.Context) -> list[str]:
        store = _open(ctx)
        if store is None:
            return []
        try:
            return list(read(store))
        except Exception:  # an old schema, a lost connection: offer nothing
            return []
        finally:
            store.close()

    return source


def _models(store: Store) -> list[str]:
    return store.model_names()


def _people(store: Store) -> list[str]:
    from mlops_tui.store import schema

    users = store.rows(schema.USERS, order="name")
    return [u.name for u in users if u.active and not u.bot and u.role != UserRole.VIEWER]


def _everyone(store: Store) -> list[str]:
    from mlops_tui.store import schema

    return [u.name for u in store.rows(schema.USERS, order="name")]


def _tokens(store: Store) -> list[str]:
    from mlops_tui.store import schema

    return [t.name for t in store.rows(schema.TOKENS, order="name")]


def _settings(_: click.Context) -> list[str]:
    from mlops_tui.services.team import SETTINGS

    return list(SETTINGS)


MODELS: Source = _from_store(_models)
PEOPLE: Source = _from_store(_people)
EVERYONE: Source = _from_store(_everyone)


def _fixed(values: Iterable[object]) -> Source:
    names = [str(v) for v in values]
    return lambda _ctx: names


#: (command path, parameter) → what it completes; None: nothing (a new name).
COMPLETERS: dict[tuple[str, str], Source | None] = {
    # by parameter name, for every command
    ("", "name"): MODELS,
    ("", "model"): MODELS,
    ("", "stage"): _fixed(STAGES),
    ("", "owner"): PEOPLE,
    ("", "user"): PEOPLE,
    ("", "to"): PEOPLE,
    ("", "from_user"): EVERYONE,
    ("", "by"): EVERYONE,
    ("", "key"): _settings,
    # where a name means something else
    ("user", "name"): EVERYONE,
    ("user", "role"): _fixed(UserRole),
    ("user add", "name"): None,
    ("model add", "name"): None,
    ("owner set", "role"): _fixed(Role),
    ("rollback", "to"): None,
    ("token", "name"): _from_store(_tokens),
    ("token create", "name"): None,
    ("token", "for_user"): EVERYONE,
}


def source_for(path: str, param: str) -> Source | None:
    for key in ((path, param), (path.split(" ")[0], param), ("", param)):
        if key in COMPLETERS:
            return COMPLETERS[key]
    return None


def attach(command: click.Command, path: str = "") -> None:
    """Give each parameter of `command` and its subcommands its completer from the table."""
    for param in command.params:
        source = source_for(path, param.name or "")
        if source is not None:
            param._custom_shell_complete = _completer(source)  # click's own hook
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            attach(sub, f"{path} {name}".strip())


def _completer(
    source: Source,
) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    def complete(
        ctx: click.Context, _param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        return [CompletionItem(v) for v in source(ctx) if v.startswith(incomplete)]

    return complete
