"""`mlops token`: the API tokens `mlops serve` admits requests by."""

from __future__ import annotations

import typer

from mlops_tui import timefmt
from mlops_tui.cli import output
from mlops_tui.cli.common import session

app = typer.Typer(
    help="API tokens for `mlops serve`: Prometheus, Alertmanager and CI act as a person.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="What the token is for (ci, prometheus, …)."),
    for_user: str | None = typer.Option(
        None,
        "--for",
        metavar="USER",
        help="Whom requests with it act as (default: you); a service account for a bot.",
    ),
) -> None:
    """Make a token and print its secret, once: only its hash is stored."""
    from mlops_tui.services import tokens

    with session() as ctx:
        token, secret = tokens.create(ctx, name, for_user=for_user)
    output.info(
        f"token {token.name} acts as {token.user}; keep the secret now, it is not shown again:"
    )
    output.write(secret + "\n")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The tokens, whom each acts as and when it was last used (never a secret)."""
    from mlops_tui.services import tokens

    with session() as ctx:
        found = tokens.tokens(ctx)
    if as_json:
        output.emit_json([output.record(t) for t in found])
        return
    if not found:
        output.info("no tokens: an admin makes one with `mlops token create NAME --for USER`")
        return
    rows = [
        (
            t.name,
            t.user,
            timefmt.local(t.created_at),
            t.created_by,
            timefmt.local(t.last_used_at) if t.last_used_at else "never",
        )
        for t in found
    ]
    output.write(output.table(("TOKEN", "ACTS AS", "CREATED", "BY", "LAST USED"), rows))


@app.command("revoke")
def revoke(name: str = typer.Argument(..., help="The token's name.")) -> None:
    """Revoke a token: requests that carry it get 401 from now on."""
    from mlops_tui.services import tokens

    with session() as ctx:
        token = tokens.revoke(ctx, name)
    output.write(f"token {token.name} ({token.user}) revoked\n")
