"""Fixtures of the reliability suite: a PostgreSQL server of its own, small filesystems."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.reliability.private_pg import PrivatePostgres


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"required under CI=true: {why}")
    pytest.skip(why)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A running server that only this test uses, so it may stop and start it."""
    why = PrivatePostgres.available()
    if why:
        _unavailable(why)
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
    except RuntimeError as exc:
        server.destroy()
        _unavailable(str(exc))
    try:
        yield server
    finally:
        server.destroy()


@contextlib.contextmanager
def _mounted(size: str) -> Iterator[Path]:
    where = Path(tempfile.mkdtemp(prefix="mlops-fs-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        where.rmdir()
        _unavailable(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


@pytest.fixture
def small_fs() -> Iterator[Path]:
    """A real filesystem of its own (a 4 MB tmpfs), to fill up or to remount read-only."""
    with _mounted("4m") as where:
        yield where


def remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)
