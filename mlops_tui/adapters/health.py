"""Is a deployed model answering? An HTTP path on 127.0.0.1 or a command (no shell)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from mlops_tui.adapters.metrics import fetch
from mlops_tui.errors import MetricsError


def probe_http(port: int, path: str, timeout: float = 3.0) -> str | None:
    """None when GET http://127.0.0.1:PORT/PATH answers 2xx, else why not."""
    try:
        status, _ = fetch(f"http://127.0.0.1:{port}{path}", timeout)
    except MetricsError as exc:
        return exc.message
    return None if 200 <= status < 300 else f"{path} answered HTTP {status}"


def probe_command(argv: list[str], timeout: float = 10.0) -> str | None:
    """None when the command exits 0, else why not."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return f"health_command {argv[0]!r} not found"
    except subprocess.TimeoutExpired:
        return f"health_command timed out after {timeout:.0f}s"
    if done.returncode == 0:
        return None
    out = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
    return f"health_command exited {done.returncode}" + (f": {out[-1]}" if out else "")


def wait_until(
    probe: Callable[[], str | None],
    timeout: float,
    *,
    gone: Callable[[], str | None] = lambda: None,
    interval: float = 0.25,
) -> str | None:
    """Probe until it passes (None) or `timeout` runs out (the last reason). `gone` says
    why waiting is pointless (the container exited), to fail at once."""
    deadline = time.monotonic() + timeout
    reason = "no answer"
    while True:
        reason = probe() or ""
        if not reason:
            return None
        dead = gone()
        if dead:
            return dead
        if time.monotonic() >= deadline:
            return f"not healthy within {timeout:g}s: {reason}"
        time.sleep(interval)
