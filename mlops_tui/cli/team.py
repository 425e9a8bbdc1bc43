"""`mlops user …` and `mlops settings …`: who is on the team and the rules they share."""

from __future__ import annotations

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

user_app = typer.Typer(help="People: add, list, change roles, deactivate.", no_args_is_help=True)
settings_app = typer.Typer(help="The team's shared settings.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(settings_app, name="settings")


@user_app.command("add")
def add(
    name: str,
    email: str | None = typer.Option(None, "--email", help="Where to reach them."),
    role: str = typer.Option("maintainer", "--role", help="viewer, member, maintainer or admin."),
    bot: bool = typer.Option(
        False, "--bot", help="A service account (the monitor, CI, a server): it holds no model."
    ),
) -> None:
    """Add a person. Viewers read only; members move, build and test any model and deploy
    their own; maintainers act on every model; admins also manage people and settings."""
    from mlops_tui.services import team

    with session() as ctx:
        user = team.add_user(ctx, name, email=email, role=role, bot=bot)
    kind = " (a service account)" if user.bot else ""
    output.write(f"added {user.name} as {user.role}{kind}\n")


@user_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Everyone the tool knows, with their role and how many models they own."""
    from mlops_tui.services import queries, team

    with session() as ctx:
        users = team.users(ctx)
        owned: dict[str, int] = {}
        for row in queries.status(ctx):
            owned[row.owner] = owned.get(row.owner, 0) + 1
    if as_json:
        output.emit_json(
            [{**output.record(u), "models_owned": owned.get(u.name, 0)} for u in users]
        )
        return
    if not users:
        output.info("no users yet: people join on their first change, or `mlops user add NAME`")
        return
    rows = [
        (
            u.name,
            "bot" if u.bot else "person",
            str(u.role),
            "active" if u.active else "deactivated",
            str(owned.get(u.name, 0)),
            u.email or "-",
            u.created_at.astimezone().strftime("%Y-%m-%d") + f" by {u.created_by}",
        )
        for u in users
    ]
    output.write(
        output.table(
            ("NAME", "KIND", "ROLE", "STATUS", "OWNS", "EMAIL", "SINCE"), rows, shrink=((5, 8),)
        )
    )


@user_app.command("show")
def show(name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One person: role, status and the models they hold."""
    from mlops_tui.services import team

    with session() as ctx:
        user = team.user(ctx, name)
        held = team.holdings(ctx, user.name)
    if as_json:
        output.emit_json(
            {**output.record(user), "holds": [{"model": m, "role": r} for m, r in held]}
        )
        return
    text = (
        f"name:    {user.name}\nkind:    {'bot' if user.bot else 'person'}\n"
        f"role:    {user.role}\n"
        f"status:  {'active' if user.active else 'deactivated'}\nemail:   {user.email or '-'}\n"
    )
    if held:
        text += "holds:\n" + "".join(f"  {m} ({r})\n" for m, r in held)
    output.write(text)


@user_app.command("role")
def role(
    name: str, role: str = typer.Argument(..., help="viewer, member, maintainer or admin")
) -> None:
    """Change someone's role."""
    from mlops_tui.services import team

    with session() as ctx:
        user = team.set_role(ctx, name, role)
    output.write(f"{user.name} is now {user.role}\n")


@user_app.command("email")
def email(name: str, address: str) -> None:
    """Change someone's email."""
    from mlops_tui.services import team

    with session() as ctx:
        user = team.set_email(ctx, name, address)
    output.write(f"{user.name}: {user.email}\n")


@user_app.command("deactivate")
def deactivate(name: str) -> None:
    """Someone left: they can no longer act; their models are orphaned until handed over."""
    from mlops_tui.services import team

    with session() as ctx:
        user = team.deactivate(ctx, name)
        owned = [m.name for m in team.owned_by(ctx, user.name)]
    output.write(f"deactivated {user.name}\n")
    if owned:
        output.info(
            f"{len(owned)} orphaned model{'s' if len(owned) != 1 else ''}: {', '.join(owned)}; "
            f"hand them over with `mlops handoff --from {user.name} --to USER`"
        )


@user_app.command("reactivate")
def reactivate(name: str) -> None:
    """Someone came back."""
    from mlops_tui.services import team

    with session() as ctx:
        user = team.reactivate(ctx, name)
    output.write(f"reactivated {user.name}\n")


@settings_app.command("list")
def settings_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every shared setting, its value and who set it."""
    from mlops_tui.services import team

    with session() as ctx:
        items = team.list_settings(ctx)
        risks = team.shared_database_risks(ctx.store)
    for risk in risks:
        output.info(f"warning: {risk}")
    if as_json:
        output.emit_json({k: v for k, v, _, _ in items})
        return

    def shown(value: object) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ",".join(map(str, value))
        return str(value)

    rows = [(k, shown(v), by or "(default)", meaning) for k, v, meaning, by in items]
    output.write(output.table(("KEY", "VALUE", "SET", "MEANING"), rows, shrink=((3, 20), (1, 20))))


@settings_app.command("set")
def settings_set(
    key: str,
    value: str = typer.Argument(..., help="true/false, env/database, a,comma,list, a number"),
) -> None:
    """Change a shared setting (admins; until the team has an admin, maintainers)."""
    from mlops_tui.services import team

    with session() as ctx:
        team.set_setting(ctx, key, value)
    output.write(f"{key} = {value}\n")
