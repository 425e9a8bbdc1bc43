"""Testing a model version: its [test].command in a clean checkout of the version's commit or
inside its image, recorded as a test run with its outcome, duration, output tail and JUnit
counts; and test runs reported by external CI."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from mlops_tui import domain
from mlops_tui.domain import (
    TEST_FINISHED,
    TEST_RECORDED,
    TEST_STARTED,
    NewEvent,
    RunStatus,
    TestRun,
    Version,
)
from mlops_tui.errors import InvalidInput, RunCancelled, TestsFailed
from mlops_tui.services import gate, loopcfg, runs
from mlops_tui.services.context import Context
from mlops_tui.store import schema

MAX_JUNIT = 20_000_000

# Yields the run's output lines, then returns (exit code, JUnit report, why it was stopped).
_Lines = Generator[str, None, tuple[int, bytes | None, str | None]]


def parse_junit(data: bytes | None) -> tuple[int, int, int] | None:
    """(passed, failed, skipped) from a JUnit XML report; errors count as failed. None when
    there is no report or it is not JUnit XML."""
    if not data:
        return None
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data[:MAX_JUNIT])
    except ET.ParseError:
        return None
    if root.tag not in ("testsuites", "testsuite"):
        return None
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            failed += 1
        elif "skipped" in tags:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def test_runs(ctx: Context, model: str | None = None, limit: int = 20) -> list[TestRun]:
    """Recent test runs, newest first (a run whose process died shows as interrupted)."""
    if model is not None:
        ctx.store.get_model(domain.validate_model_name(model))
    return [runs.as_seen(r) for r in ctx.store.rows(schema.TEST_RUNS, model=model, limit=limit)]


test_runs.__dict__["__test__"] = False  # a use case, not a test, wherever it is imported


def _watchdog(
    stop: Callable[[], None], cancel: threading.Event | None, timeout: float, done: threading.Event
) -> list[str]:
    """Stop the run when cancelled or out of time; returns a one-item list saying which."""
    why: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not done.wait(0.1):
            if cancel is not None and cancel.is_set():
                why.append("cancelled")
            elif time.monotonic() >= deadline:
                why.append(f"timed out after {timeout:g}s")
            if why:
                with contextlib.suppress(Exception):
                    stop()
                return

    threading.Thread(target=watch, daemon=True).start()
    return why


def _in_checkout(
    repo_path: str,
    sha: str,
    argv: list[str],
    junit: str | None,
    env: dict[str, str],
    timeout: float,
    cancel: threading.Event | None,
) -> _Lines:
    """Run `argv` in a fresh copy of the committed tree at `sha`; yields output lines and
    returns (exit code, JUnit bytes, why it was stopped).

    The tree is read now, not when the first line is asked for, so that a commit that
    cannot be checked out safely (a symlink leaving the repository) is refused before the
    run is recorded."""
    from mlops_tui.adapters.git_repo import GitRepo

    archive = GitRepo(repo_path).archive(sha)
    return _run_in_checkout(archive, sha, argv, junit, env, timeout, cancel)


def _run_in_checkout(
    archive: io.BytesIO,
    sha: str,
    argv: list[str],
    junit: str | None,
    env: dict[str, str],
    timeout: float,
    cancel: threading.Event | None,
) -> _Lines:
    with tempfile.TemporaryDirectory(prefix="mlops-test-") as tmp:
        with tarfile.open(fileobj=archive) as tar:
            try:
                tar.extractall(tmp, filter="data")
            except tarfile.FilterError as exc:  # archive() refuses these first; kept as a net
                raise InvalidInput(f"cannot check out {sha[:12]} safely: {exc}") from None
        try:
            proc = subprocess.Popen(
                argv,
                cwd=tmp,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise InvalidInput(f"[test].command: {argv[0]!r} is not installed here") from None
        except PermissionError:
            raise InvalidInput(f"[test].command: {argv[0]!r} is not executable") from None
        done = threading.Event()

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        why = _watchdog(kill, cancel, timeout, done)
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                yield raw.decode(errors="replace").rstrip("\n")
            code = proc.wait()
        except BaseException:
            kill()
            proc.wait()
            raise
        finally:
            done.set()
        report = None
        if junit:
            # The tests may have left a link there: read only a report inside the checkout.
            path = Path(tmp, junit).resolve()
            if path.is_relative_to(Path(tmp).resolve()) and path.is_file():
                report = path.read_bytes()[:MAX_JUNIT]
        return code, report, (why[0] if why else None)


def _in_image(
    engine: Any,
    image: str,
    argv: list[str],
    junit: str | None,
    env: dict[str, str],
    timeout: float,
    cancel: threading.Event | None,
) -> _Lines:
    """Run `argv` inside the version's image, without a network."""
    container = engine.run(image, command=argv, environment=env, network_mode="none")
    done = threading.Event()
    why = _watchdog(lambda: container.kill(), cancel, timeout, done)
    try:
        yield from engine.logs(container)
        code = engine.exit_code(container, timeout=30)
        report = None
        if junit:
            workdir = engine.api.inspect_image(image)["Config"].get("WorkingDir") or "/"
            report = engine.read_file(container, os.path.join(workdir, junit))
        return code, report, (why[0] if why else None)
    finally:
        done.set()
        engine.remove(container)


@gate.writes("test", model="name")
def run(
    ctx: Context,
    name: str,
    *,
    version: int | None = None,
    on_line: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    engine: Any = None,
) -> TestRun:
    """Run the tests of `name`'s version (default: its candidate) and record the run.

    Raises InvalidInput/ConfigError/GitError/EngineError before anything is recorded; after
    the run is recorded, TestsFailed when the tests failed and RunCancelled when stopped.
    """
    name = domain.validate_model_name(name)
    model = ctx.store.get_model(name)
    gate.check(ctx, model)
    runs.reap_interrupted(ctx, runs.TEST_RUNS, name)
    v = loopcfg.version_of(ctx, model, version)
    cfg = loopcfg.config_of(model, v)
    if not cfg.test_command:
        raise InvalidInput(
            f"{name} v{v.number} has no [test].command in mlops.toml: add one, e.g. "
            'command = ["pytest", "-q"]'
        )
    env = {"MLOPS_MODEL": name, "MLOPS_VERSION": str(v.number)}
    if cfg.test_in_image:
        image = v.runnable  # set whenever v.image is: it falls back to the tag
        if not v.image or image is None:
            raise InvalidInput(f"{name} v{v.number} has no image to test in")
        if engine is None:
            from mlops_tui.adapters.docker_engine import DockerEngine

            engine = DockerEngine()
        lines = _in_image(
            engine, image, cfg.test_command, cfg.test_junit, env, cfg.test_timeout, cancel
        )
    else:
        if not model.repo or not v.commit:
            raise InvalidInput(
                f"{name} v{v.number} has no commit in a local repository to check out; "
                "set in_image = true in its mlops.toml, or record CI's result",
                cli=f"`mlops record test {name}`",
            )
        lines = _in_checkout(
            model.repo, v.commit, cfg.test_command, cfg.test_junit, env, cfg.test_timeout, cancel
        )
    host, pid = runs.here()
    started = _start(
        ctx,
        v,
        ctx.event(TEST_STARTED, name, command=cfg.test_command),
        in_image=cfg.test_in_image,
        command=cfg.test_command,
        host=host,
        pid=pid,
    )
    log = runs.Log(on_line)

    def finish(
        status: RunStatus, error: str | None = None, counts: tuple[int, int, int] | None = None
    ) -> TestRun:
        event = ctx.event(TEST_FINISHED, name, **({"error": error} if error else {}))
        return _finish(ctx, started.id, status, counts, error, log.tail, event)

    with runs.recorded(finish, failed=RunStatus.FAILED, cancelled=RunStatus.CANCELLED):
        code, report, stopped = log.follow(lines)
    counts = parse_junit(report)
    if stopped == "cancelled":
        finish(RunStatus.CANCELLED, "the test run was cancelled", counts)
        raise RunCancelled(f"the tests of {name} v{v.number} were cancelled")
    if stopped:
        done = finish(RunStatus.FAILED, f"the tests {stopped}", counts)
        raise TestsFailed(f"the tests of {name} v{v.number} {stopped} (test run #{done.id})")
    if code != 0:
        error = f"{cfg.test_command[0]} exited with {code}"
        done = finish(RunStatus.FAILED, error, counts)
        raise TestsFailed(
            f"the tests of {name} v{v.number} failed: {error}{_counts(done)} (test run #{done.id})"
        )
    return finish(RunStatus.PASSED, None, counts)


def _counts(run: TestRun) -> str:
    if run.passed is None:
        return ""
    return f" ({run.passed} passed, {run.failed} failed, {run.skipped} skipped)"


def summary(run: TestRun) -> str:
    """One line for the CLI and the TUI."""
    took = f" in {run.duration:.1f}s" if run.duration is not None else ""
    what = f"{run.model} v{run.version}: tests {run.status}{_counts(run)}"
    return f"{what}{took} (test run #{run.id})"


@gate.writes("test", model="name")
def record(
    ctx: Context,
    name: str,
    *,
    version: int,
    passed: bool,
    url: str | None = None,
    junit: bytes | None = None,
) -> TestRun:
    """A test run that ran in external CI, kept in the same history and gate."""
    name = domain.validate_model_name(name)
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInput(f"invalid URL {url!r}: it must start with http:// or https://")
    counts = parse_junit(junit)
    if junit is not None and counts is None:
        raise InvalidInput("the JUnit report given is not JUnit XML")
    model = ctx.store.get_model(name)
    gate.check(ctx, model)
    runs.reap_interrupted(ctx, runs.TEST_RUNS, name)
    v = loopcfg.version_of(ctx, model, version)
    event = ctx.event(TEST_RECORDED, name, **({"url": url} if url else {}))
    started = _start(ctx, v, event, in_image=False, command=[], url=url)
    status = RunStatus.PASSED if passed else RunStatus.FAILED
    error = None if passed else "reported as failed by external CI"
    event = ctx.event(TEST_FINISHED, name, external=True)
    return _finish(ctx, started.id, status, counts, error, "", event)


def _start(ctx: Context, v: Version, event: NewEvent, **values: Any) -> TestRun:
    """Record a test run of version `v` as running."""
    values = {"model": v.model, "version": v.number, "commit_sha": v.commit, **values}
    return runs.start(ctx, runs.TEST_RUNS, values, event)


def _finish(
    ctx: Context,
    run_id: int,
    status: RunStatus,
    counts: tuple[int, int, int] | None,
    error: str | None,
    log_tail: str,
    event: NewEvent,
) -> TestRun:
    """End the test run with what its report counted, when it had one."""
    ended: dict[str, Any] = {"status": status, "error": error, "log_tail": log_tail}
    if counts is not None:
        tally = dict(zip(("passed", "failed", "skipped"), counts, strict=True))
        ended.update(tally)
        event = event.add(**tally)
    run, _ = runs.finish(ctx, runs.TEST_RUNS, run_id, ended, event)
    return run
