"""Command-line front end. `main` is the console script: it turns expected errors into one
line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import sys
from typing import Literal, TypedDict


class FastStatus(TypedDict):
    """The arguments of a plain `mlops status`, as `fast_status_args` found them."""

    db: str | None
    name: str | None
    stage: str | None
    owner: str | None
    at: str | None
    as_json: bool


def fast_status_args(argv: list[str]) -> FastStatus | None:
    """The arguments of a plain `mlops [--db URL] status [NAME] [--stage S] [--owner U]
    [--at WHEN] [--json]`, or None for anything else (help, typos, other commands), which
    Typer handles.

    `mlops status` sits in shell prompts; skipping Typer's import saves a third of its time.
    A test runs both paths over the same arguments and compares their output.
    """
    args = list(argv)
    db = None
    if len(args) >= 2 and args[0] == "--db":
        db, args = args[1], args[2:]
    if not args or args[0] != "status":
        return None
    found: FastStatus = {
        "db": db,
        "name": None,
        "stage": None,
        "owner": None,
        "at": None,
        "as_json": False,
    }
    rest = args[1:]
    while rest:
        arg = rest.pop(0)
        if arg == "--json" and not found["as_json"]:
            found["as_json"] = True
        elif arg in ("--stage", "--owner", "--at"):
            key: Literal["stage", "owner", "at"] = (
                "stage" if arg == "--stage" else ("owner" if arg == "--owner" else "at")
            )
            if not rest or found[key] is not None or rest[0].startswith("-"):
                return None
            found[key] = rest.pop(0)
        elif not arg.startswith("-") and found["name"] is None:
            found["name"] = arg
        else:
            return None
    return found


def main(argv: list[str] | None = None) -> None:
    from mlops_tui.errors import MlopsError

    args = sys.argv[1:] if argv is None else argv
    try:
        fast = fast_status_args(args)
        if fast is not None:
            from mlops_tui.cli.common import CliSettings
            from mlops_tui.cli.status_view import show_status

            # No Click context on this path: the settings travel as an argument.
            show_status(
                fast["name"],
                stage=fast["stage"],
                owner=fast["owner"],
                as_json=fast["as_json"],
                at=fast["at"],
                settings=CliSettings(db=fast["db"]),
            )
            sys.stdout.flush()
            return
        from mlops_tui.cli.app import app

        if "_MLOPS_COMPLETE" in os.environ:  # the shell asks what to complete
            import typer

            from mlops_tui.cli import completion

            command = typer.main.get_command(app)
            completion.attach(command)
            command.main(args=args, prog_name="mlops")
            return
        app(args=args, prog_name="mlops")
    except MlopsError as exc:
        sys.stderr.write(f"mlops: {exc.cli_message}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("mlops: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        # `mlops status | head`: the reader left; say nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:
        if os.environ.get("MLOPS_DEBUG"):
            raise
        sys.stderr.write(
            f"mlops: internal error: {type(exc).__name__}: {exc} "
            "(run again with MLOPS_DEBUG=1 for the traceback, and report it)\n"
        )
        sys.exit(70)
