"""Command-line front end. `main` is the console script: it turns expected errors into one
line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    from mlops_tui.domain import MlopsError

    try:
        from mlops_tui.cli.app import app

        app(args=argv, prog_name="mlops")
    except MlopsError as exc:
        sys.stderr.write(f"mlops: {exc.message}\n")
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
