"""Every failure the tool expects, with the title the TUI shows and the exit code the CLI
returns, and the table of those exit codes (the README's is rendered from `EXIT_CODES`).

An `MlopsError` carries one line a person can act on: the CLI prints it on stderr and exits
with its `exit_code`, the TUI shows it as a notification under its `title`. Anything else
that escapes is a bug (exit 70). This module imports nothing but the standard library's
typing, since `mlops status` loads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_tui.domain.loop import Model

#: Anything unexpected: a bug in the tool.
BUG = 70
#: Ctrl-C, or a build or test run that was cancelled.
INTERRUPTED = 130

#: What each exit code of `mlops` means, in the order the README lists them.
EXIT_CODES: dict[int, str] = {
    1: "other expected error",
    2: "bad input, unknown model or stage, refused move, already exists "
    "(Typer's usage errors are 2 too)",
    3: "conflict: someone changed the model since you read it, or importing into a non-empty "
    "database; nothing was written",
    4: "database unreachable, busy, read-only, full, or too new for this release, "
    "or the MLflow tracking server unreachable or refusing the credentials",
    5: "a Git operation failed (rejected push, diverged branches, no remote, detached HEAD…)",
    6: "the Docker engine is unreachable",
    7: "not allowed: a permission rule refused it (the refusal is in the history)",
    8: "`mlops oncall`: a production model needs attention",
    9: "`mlops audit verify` / `audit head`: the history's hash chain is broken, its newest "
    "events are gone, or (`--expect`) it no longer leads to the witnessed head",
    BUG: "a bug: the message says so; `MLOPS_DEBUG=1` shows the traceback",
    INTERRUPTED: "interrupted: Ctrl-C, or a build or test run was cancelled",
}


def exit_code_table() -> str:
    """`EXIT_CODES` as the README's Markdown table."""
    lines = ["| exit | meaning |", "|---|---|"]
    lines += [f"| {code} | {meaning} |" for code, meaning in EXIT_CODES.items()]
    return "\n".join(lines) + "\n"


class MlopsError(Exception):
    """An expected failure: shown as one line in the CLI and as a notification in the TUI.

    The reason is the same in both; what to do next is not. The CLI names commands and
    flags, the TUI names keys and dialogs, so a raiser that knows the next step gives each
    front end its own hint (`cli=`, `tui=`) and keeps flags out of the shared reason.
    """

    title = "Error"
    exit_code = 1

    def __init__(
        self, message: str, *, title: str | None = None, cli: str = "", tui: str = ""
    ) -> None:
        super().__init__(message)
        self.reason = message
        self.cli_hint = cli
        self.tui_hint = tui
        if title is not None:
            self.title = title

    @property
    def message(self) -> str:
        """What the TUI shows: the reason, and the TUI's own next step if there is one."""
        return _then(self.reason, self.tui_hint)

    @property
    def cli_message(self) -> str:
        """What the CLI prints: the reason, and the command that helps if there is one."""
        return _then(self.reason, self.cli_hint)

    def __str__(self) -> str:
        return self.cli_message


def _then(reason: str, hint: str) -> str:
    """The reason, then what to do: after a question ("did you mean …?") a new sentence."""
    if not hint:
        return reason
    return f"{reason} {hint}" if reason.endswith(("?", ".")) else f"{reason}; {hint}"


def close_matches(word: str, known: Iterable[str], *, limit: int = 2) -> list[str]:
    """Names close to a mistyped one, best first (difflib's ratio, as Click uses)."""
    import difflib  # only on the way to an error: `mlops status` does not pay for it

    return difflib.get_close_matches(word, list(known), n=limit, cutoff=0.6)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """ "did you mean 'a' or 'b'?", or "" when nothing is close."""
    found = close_matches(word, known)
    if not found:
        return ""
    return "did you mean " + " or ".join(f"'{name}'" for name in found) + "?"


def unknown_choice(what: str, value: object, choices: Iterable[str]) -> InvalidInput:
    """ "unknown stage 'bild': did you mean 'build'? the stages are …"."""
    names = [str(c) for c in choices]
    hint = did_you_mean(value.strip().lower(), names) if isinstance(value, str) else ""
    return InvalidInput(
        f"unknown {what} {value!r}: "
        + (f"{hint} " if hint else "")
        + f"the {what}s are {', '.join(names)}"
    )


def no_repository(model: str) -> InvalidInput:
    """Building, testing or Git on a model that has no repository yet."""
    return InvalidInput(
        f"{model} has no repository", cli=f"set one with `mlops model set {model} --repo PATH`"
    )


def no_such(what: str, name: str, known: Iterable[str], *, cli: str = "") -> NotFound:
    """ "no model named 'x'", with the close names the database knows."""
    hint = did_you_mean(name, known)
    return NotFound(f"no {what} named {name!r}" + (f": {hint}" if hint else ""), cli=cli)


# -- exit 2: what the user typed or asked for cannot be done ---------------------------------


class InvalidInput(MlopsError):
    title = "Invalid input"
    exit_code = 2


class NotFound(MlopsError):
    title = "Not found"
    exit_code = 2


class AlreadyExists(MlopsError):
    title = "Already exists"
    exit_code = 2


class MoveRefused(MlopsError):
    title = "Move refused"
    exit_code = 2


class ApprovalMissing(MlopsError):
    """A deploy refused because the version lacks the approvals its model requires."""

    title = "Approval required"
    exit_code = 2


class ConfigError(InvalidInput):
    """A model's `mlops.toml` is wrong: `where` names the file and key."""

    title = "Bad mlops.toml"
    exit_code = 2

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


class NothingToCheck(InvalidInput):
    """The version's mlops.toml names no health check, metrics or query."""

    title = "Invalid input"
    exit_code = 2


# -- exit 3 to 9: the world disagrees ------------------------------------------------------


class Conflict(MlopsError):
    """Someone else changed the record since it was read; nothing was written."""

    title = "Conflict"
    exit_code = 3

    @classmethod
    def stale(cls, current: Model, expected_revision: int) -> Conflict:
        when = current.updated_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        return cls(
            f"{current.name} was changed by {current.updated_by} at {when} "
            f"(revision {current.revision}; you had {expected_revision}): "
            "nothing was written, reload and try again"
        )


class StoreUnavailable(MlopsError):
    title = "Database unreachable"
    exit_code = 4


class RegistryUnreachable(MlopsError):
    """The MLflow registry cannot be read or written: its server does not answer, is not
    MLflow, refuses the credentials, or its database cannot be opened."""

    title = "MLflow"
    exit_code = 4


class GitError(MlopsError):
    title = "Git"
    exit_code = 5


class EngineError(MlopsError):
    title = "Docker"
    exit_code = 6


class PermissionDenied(MlopsError):
    """The acting person may not do this; the message names the rule."""

    title = "Not allowed"
    exit_code = 7


class NeedsAttention(MlopsError):
    """`mlops oncall` found production models that need someone (its table was printed)."""

    title = "Needs attention"
    exit_code = 8


class ChainBroken(MlopsError):
    """`mlops audit verify` found a stored event that was edited, removed or slipped in."""

    title = "Audit chain broken"
    exit_code = 9


# -- exit 1: something the tool ran failed -------------------------------------------------


class BuildFailed(MlopsError):
    title = "Build failed"
    exit_code = 1


class TestsFailed(MlopsError):
    __test__ = False  # not a pytest class
    title = "Tests failed"
    exit_code = 1


class DeployFailed(MlopsError):
    title = "Deploy failed"
    exit_code = 1


class MetricsError(MlopsError):
    title = "Metrics"
    exit_code = 1


# -- exit 130: stopped on purpose ----------------------------------------------------------


class BuildCancelled(MlopsError):
    title = "Build cancelled"
    exit_code = INTERRUPTED


class RunCancelled(MlopsError):
    title = "Cancelled"
    exit_code = INTERRUPTED


# -- exit 70: a bug ------------------------------------------------------------------------


class UngatedWrite(RuntimeError):
    """A write reached the store without passing the gate: a bug in the tool, never a
    user's mistake (so not an MlopsError: the CLI reports it as an internal error)."""

    title = "Internal error"
    exit_code = BUG
