"""`mlops handoff`: hand a model (or everything someone owns) to someone else.

`handoff` is both a command and a group: `mlops handoff NAME --to USER` and
`mlops handoff --from USER --to USER` offer models; `list`, `accept`, `decline`, `cancel`
work on the offers. A small Click group subclass reads a first word that is not a
subcommand as the model's name.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from mlops_tui.cli import output
from mlops_tui.cli.common import session
from mlops_tui.errors import close_matches


class _HandoffGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            # `handoff lst` is a typo, not a model called "lst": a model's offer names
            # whom it goes to, so a close word without --to is read as a subcommand.
            if not {"--to", "--from"} & set(args) and close_matches(args[0], self.commands):
                raise click.NoSuchCommand(args[0], possibilities=self.commands, ctx=ctx)
            args = ["--model", args[0], *args[1:]]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_HandoffGroup,
    invoke_without_command=True,
    help="Hand models over: `mlops handoff NAME --to USER [--note TEXT]`, or everything a "
    "person owns with `mlops handoff --from USER --to USER`; then list, accept, decline, cancel.",
)


def _line(h: Any) -> str:
    ticked = sum(c.done for c in h.checklist)
    return (
        f"#{h.id}  {h.model}: {h.from_user} → {h.to_user}  {h.status}  "
        f"checklist {ticked}/{len(h.checklist)}" + (f"  “{h.note}”" if h.note else "")
    )


@app.callback()
def handoff(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", hidden=True),
    to: str | None = typer.Option(None, "--to", metavar="USER", help="Who takes over."),
    from_user: str | None = typer.Option(
        None, "--from", metavar="USER", help="Every model this person owns (someone leaving)."
    ),
    note: str | None = typer.Option(None, "--note", "-n", help="What they should know."),
) -> None:
    """Offer a model, or every model someone owns, to another person."""
    if ctx.invoked_subcommand is not None:
        if model or to or from_user or note:
            from mlops_tui.errors import InvalidInput

            raise InvalidInput(
                "give --to/--from/--note to `mlops handoff NAME`, not to a subcommand"
            )
        return
    from mlops_tui.errors import InvalidInput
    from mlops_tui.services import handoffs

    if to is None:
        if model is None and from_user is None:
            output.write(ctx.get_help() + "\n")
            return
        raise InvalidInput("say who takes over with --to USER")
    if (model is None) == (from_user is None):
        raise InvalidInput("give a model NAME or --from USER (not both)")
    with session() as c:
        if model is not None:
            made = [handoffs.request(c, model, to=to, note=note)]
        else:
            made = handoffs.request_all(c, from_user=from_user or "", to=to, note=note)
    for h in made:
        output.write(
            f"handoff #{h.id}: {h.model} from {h.from_user} to {h.to_user}, "
            f"waiting for {h.to_user}\n"
        )


@app.command("list")
def list_(
    mine: bool = typer.Option(False, "--mine", help="Only those to or from me."),
    every: bool = typer.Option(False, "--all", help="Closed ones too."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Pending handoffs (with --all, accepted, declined and cancelled ones too)."""
    from mlops_tui import timefmt
    from mlops_tui.services import handoffs

    with session() as c:
        items = handoffs.listing(c, mine=mine, everything=every)
    if as_json:
        output.emit_json(
            [
                {
                    **output.record(h),
                    "checklist": [{"item": i.item, "done": i.done} for i in h.checklist],
                    "unticked": h.unticked,
                }
                for h in items
            ]
        )
        return
    if not items:
        output.info("no handoffs" + (" to or from you" if mine else "") + " pending")
        return
    rows = [
        (
            f"#{h.id}",
            h.model,
            h.from_user,
            h.to_user,
            str(h.status),
            f"{sum(c.done for c in h.checklist)}/{len(h.checklist)}",
            timefmt.local(h.created_at) + f" by {h.created_by}",
            h.reply or h.note or "",
        )
        for h in items
    ]
    output.write(
        output.table(
            ("ID", "MODEL", "FROM", "TO", "STATUS", "CHECKED", "ASKED", "NOTE"),
            rows,
            shrink=((7, 10), (6, 16), (1, 12)),
        )
    )


@app.command("accept")
def accept(
    handoff_id: int | None = typer.Argument(None, metavar="[ID]", help="The handoff's number."),
    every: bool = typer.Option(False, "--all", help="Every handoff waiting for me."),
    ack_all: bool = typer.Option(
        False, "--ack-all", help="Tick every checklist item (you have done them all)."
    ),
) -> None:
    """Take the model over. Refused while checklist items are unticked (see --ack-all)."""
    from mlops_tui.errors import InvalidInput
    from mlops_tui.services import handoffs

    if (handoff_id is None) == (not every):
        raise InvalidInput("give a handoff ID or --all")
    with session() as c:
        if handoff_id is not None:
            done, model = handoffs.accept(c, handoff_id, ack_all=ack_all)
            output.write(f"accepted #{done.id}: you own {model.name} now\n")
            return
        outcomes = handoffs.accept_all(c, ack_all=ack_all)
    if not outcomes:
        output.info("no handoffs waiting for you")
        return
    refused = [(o, o.error) for o in outcomes if o.error is not None]
    for o in outcomes:
        if o.error is None and o.model is not None:
            output.write(f"accepted #{o.handoff.id}: you own {o.model.name} now\n")
    for o, error in refused:
        output.info(f"not accepted #{o.handoff.id} ({o.handoff.model}): {error.cli_message}")
    if refused:
        raise InvalidInput(f"{len(refused)} of {len(outcomes)} handoffs were not accepted")


@app.command("tick")
def tick(
    handoff_id: int = typer.Argument(..., metavar="ID"),
    items: list[str] = typer.Argument(..., metavar="ITEM...", help="Checklist items done."),
    undo: bool = typer.Option(False, "--undo", help="Untick instead."),
) -> None:
    """Tick checklist items of a handoff waiting for you."""
    from mlops_tui.services import handoffs

    with session() as c:
        h = handoffs.tick(c, handoff_id, items, done=not undo)
    output.write(_line(h) + "\n")


@app.command("decline")
def decline(
    handoff_id: int = typer.Argument(..., metavar="ID"),
    note: str = typer.Option(..., "--note", "-n", help="Why (the sender reads it)."),
) -> None:
    """Say no, with a reason; the owner stays as it was."""
    from mlops_tui.services import handoffs

    with session() as c:
        h = handoffs.decline(c, handoff_id, note=note)
    output.write(f"declined #{h.id} ({h.model}): {h.reply}\n")


@app.command("cancel")
def cancel(handoff_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Take back a handoff you offered (or any, as an admin)."""
    from mlops_tui.services import handoffs

    with session() as c:
        h = handoffs.cancel(c, handoff_id)
    output.write(f"cancelled #{h.id} ({h.model})\n")
