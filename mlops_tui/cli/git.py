"""`mlops git NAME status|log|pull|commit|tag|push`: Git on the model's repository."""

from __future__ import annotations

import typer

from mlops_tui.cli import output
from mlops_tui.cli.common import session

app = typer.Typer(
    help="Git on a model's repository: mlops git NAME status|log|pull|commit|tag|push.",
    no_args_is_help=True,
)


@app.callback()
def model(ctx: typer.Context, name: str = typer.Argument(..., help="The model.")) -> None:
    """Git on a model's repository: mlops git NAME status|log|pull|commit -m MSG|tag|push."""
    ctx.obj = name


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Branch, ahead/behind its upstream, and uncommitted files."""
    from mlops_tui.services import gitops

    name: str = ctx.obj
    with session() as mctx:
        st = gitops.status(mctx, name)
    branch = st.branch or f"(detached HEAD at {st.head[:12] if st.head else '?'})"
    lines = [f"branch:  {branch}"]
    if st.upstream:
        lines.append(f"tracks:  {st.upstream} (ahead {st.ahead}, behind {st.behind})")
    lines.append(f"head:    {st.head[:12] if st.head else '-'}")
    lines.append("changes: " + (", ".join(st.dirty) if st.dirty else "none"))
    output.write("\n".join(lines) + "\n")


@app.command("log")
def log(ctx: typer.Context, count: int = typer.Option(10, "--count", "-n")) -> None:
    """Recent commits."""
    from mlops_tui import timefmt
    from mlops_tui.services import gitops

    name: str = ctx.obj
    with session() as mctx:
        commits = gitops.log(mctx, name, count)
    rows = [(c.sha[:12], timefmt.local(c.at), c.author, c.summary) for c in commits]
    output.write(output.table(("COMMIT", "AT", "AUTHOR", "SUMMARY"), rows, shrink=((3, 20),)))


@app.command("pull")
def pull(ctx: typer.Context) -> None:
    """Fast-forward the branch from its remote (never a merge)."""
    from mlops_tui.services import gitops

    name: str = ctx.obj
    with session() as mctx:
        after = gitops.pull(mctx, name)
    output.write(f"{name}: now at {after[:12]}\n" if after else f"{name}: already up to date\n")


@app.command("commit")
def commit(
    ctx: typer.Context,
    message: str = typer.Option(..., "--message", "-m", help="The commit message."),
) -> None:
    """Commit what is staged (or, with nothing staged, every change to tracked files)."""
    from mlops_tui.services import gitops

    name: str = ctx.obj
    with session() as mctx:
        sha = gitops.commit(mctx, name, message)
    output.write(f"{name}: committed {sha[:12]}\n")


@app.command("tag")
def tag(ctx: typer.Context) -> None:
    """Tag the candidate version's commit as NAME@vN.0.0 (GTO's format)."""
    from mlops_tui.services import gitops

    name: str = ctx.obj
    with session() as mctx:
        tag_name, sha, created = gitops.tag(mctx, name)
    verb = "tagged" if created else "already tagged"
    output.write(f"{name}: {verb} {sha[:12]} as {tag_name}\n")


@app.command("push")
def push(ctx: typer.Context) -> None:
    """Push the branch and the model's tags."""
    from mlops_tui.services import gitops

    name: str = ctx.obj
    with session() as mctx:
        remote, tags = gitops.push(mctx, name)
    extra = f" and {len(tags)} tag{'s' if len(tags) != 1 else ''}" if tags else ""
    output.write(f"{name}: pushed the branch{extra} to {remote}\n")
