"""The error hierarchy and its exit codes: every expected failure has a title and an exit code
the README explains, and the README's "| exit | meaning |" table is `errors.EXIT_CODES`."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import mlops_tui
from mlops_tui import errors
from mlops_tui.domain import Model, Stage
from mlops_tui.errors import EXIT_CODES, MlopsError, exit_code_table


def subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *subclasses(sub)]
    return out


@pytest.fixture(scope="module")
def defined() -> list[type[MlopsError]]:
    """Every MlopsError subclass the tool defines, wherever it is: every module imported
    (but `__main__`, which would run the CLI), so none is missed for not being loaded yet."""
    for info in pkgutil.walk_packages(mlops_tui.__path__, "mlops_tui."):
        if not info.name.endswith(".__main__"):
            importlib.import_module(info.name)
    found = [c for c in subclasses(MlopsError) if c.__module__.startswith("mlops_tui.")]
    assert found, "no MlopsError subclasses found"
    return found


def test_the_readme_prints_this_table() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = exit_code_table()
    assert table in readme, "README's exit-code table differs: paste exit_code_table() into it"
    assert readme.count("| exit | meaning |") == 1


def test_every_error_has_its_own_title_and_a_documented_exit_code(
    defined: list[type[MlopsError]],
) -> None:
    for cls in [MlopsError, *defined]:
        assert cls.exit_code in EXIT_CODES, f"{cls.__name__} exits {cls.exit_code}"
        assert cls.title and "\n" not in cls.title
        assert "title" in vars(cls) and "exit_code" in vars(cls), (
            f"{cls.__name__} should say its own title and exit code"
        )
    assert errors.UngatedWrite.exit_code == errors.BUG in EXIT_CODES
    assert not issubclass(errors.UngatedWrite, MlopsError)  # a bug, never a user's mistake


def test_the_errors_live_in_one_module(defined: list[type[MlopsError]]) -> None:
    assert {c.__module__ for c in defined} == {"mlops_tui.errors"}


def test_every_error_is_imported_from_errors(defined: list[type[MlopsError]]) -> None:
    """One home: no module imports an error class from anywhere but `mlops_tui.errors`."""
    import ast

    names = {c.__name__ for c in [MlopsError, *defined]} | {"UngatedWrite"}
    root = Path(__file__).parents[1]
    wrong = []
    for path in [*root.joinpath("mlops_tui").rglob("*.py"), *root.joinpath("tests").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module.startswith("mlops_tui") and module != "mlops_tui.errors":
                wrong += [f"{path.name}: {a.name}" for a in node.names if a.name in names]
    assert wrong == []


def test_a_message_and_a_title() -> None:
    exc = errors.NotFound("no model 'x'")
    assert (exc.message, str(exc), exc.title, exc.exit_code) == (
        "no model 'x'",
        "no model 'x'",
        "Not found",
        2,
    )
    assert errors.InvalidInput("bad", title="Bad date").title == "Bad date"
    bad = errors.ConfigError("mlops.toml: [build].context", "must be a path")
    assert isinstance(bad, errors.InvalidInput)
    assert (bad.message, bad.title, bad.exit_code) == (
        "mlops.toml: [build].context: must be a path",
        "Bad mlops.toml",
        2,
    )


def test_each_front_end_gets_its_own_next_step() -> None:
    exc = errors.MoveRefused("churn cannot go to test: it has no build yet", cli="run `x`", tui="b")
    assert exc.message == "churn cannot go to test: it has no build yet; b"
    assert exc.cli_message == str(exc) == "churn cannot go to test: it has no build yet; run `x`"
    assert errors.InvalidInput("plain").cli_message == "plain"


def test_a_mistyped_name_gets_the_close_ones() -> None:
    known = ["credit-scorer", "churn-predictor", "churn-predictor-eu", "fraud"]
    found = errors.no_such("model", "credit-scorr", known)
    assert found.message == "no model named 'credit-scorr': did you mean 'credit-scorer'?"
    assert "or" in errors.no_such("model", "churn-predictr", known).message
    assert errors.no_such("model", "zzz", known).message == "no model named 'zzz'"
    bad = errors.unknown_choice("stage", "bild", ["plan", "build", "test"])
    assert (
        bad.message
        == "unknown stage 'bild': did you mean 'build'? the stages are plan, build, test"
    )


SHARED = ("domain", "services", "store", "adapters", "modelconfig.py")
CLI_WORDS = re.compile(r"--[a-z]|`mlops\b")


def _strings(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def test_shared_messages_name_no_flag_or_command() -> None:
    """The services speak to both front ends, so the reason an error gives names no flag
    and no command: those belong in its `cli=` hint, which only the CLI prints."""
    root = Path(mlops_tui.__file__).parent
    files = [
        f
        for part in SHARED
        for f in ([root / part] if part.endswith(".py") else (root / part).rglob("*.py"))
    ]
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
                continue
            call = node.exc
            shared = [*call.args, *(k.value for k in call.keywords if k.arg not in ("cli",))]
            for arg in shared:
                for text in _strings(arg):
                    if CLI_WORDS.search(text):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {text}")
    assert not found, "\n".join(found)


def test_a_stale_write_names_who_changed_it() -> None:
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    current = Model("churn", Stage.TEST, "ana", at, "ana", at, "bob", revision=4)
    exc = errors.Conflict.stale(current, 3)
    assert isinstance(exc, errors.Conflict) and exc.exit_code == 3
    assert exc.message.startswith("churn was changed by bob at ")
    assert "(revision 4; you had 3): nothing was written" in exc.message


def test_importing_errors_stays_light() -> None:
    """`mlops status` imports it: nothing of ours but itself, nothing outside the standard
    library (not even `mlops_tui.domain`, which it names only for type checkers)."""
    probe = (
        "import sys\n"
        "import mlops_tui\n"
        "before = set(sys.modules)\n"
        "import mlops_tui.errors\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert "mlops_tui.errors" in loaded
    outside = [
        m
        for m in loaded
        if m != "mlops_tui.errors" and m.split(".")[0] not in sys.stdlib_module_names
    ]
    assert not outside
