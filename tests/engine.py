"""A real Docker engine for the tests: the running one, or `dockerd` started here with no
bridge and no iptables (so no traffic leaves 127.0.0.0/8), plus a busybox base image made
locally with `docker import` (no registry is reachable)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

BASE_IMAGE = "mlops-busybox:local"  # what the product's DockerEngine.local_base makes


def _client():
    import docker

    client = docker.from_env(timeout=60)
    client.ping()
    return client


def ensure_engine():
    """Return (client, "") when an engine answers, else (None, why not)."""
    try:
        return _client(), ""
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    dockerd = shutil.which("dockerd")
    if not dockerd or os.geteuid() != 0:
        return None, f"no Docker engine ({first}) and no dockerd to start as root"
    log = open("/tmp/mlops-test-dockerd.log", "ab")  # noqa: SIM115 - the daemon keeps it
    subprocess.Popen(
        [dockerd, "--bridge=none", "--iptables=false", "--ip-masq=false"],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    for _ in range(60):
        time.sleep(0.5)
        try:
            return _client(), ""
        except Exception:
            continue
    return None, "dockerd did not answer within 30 s (see /tmp/mlops-test-dockerd.log)"


def ensure_base_image(client) -> str | None:
    """The product's own local base (busybox-static imported); None when busybox is missing."""
    from mlops_tui.adapters.docker_engine import DockerEngine
    from mlops_tui.errors import EngineError

    engine = DockerEngine()
    try:
        return engine.local_base()
    except EngineError:
        return None
    finally:
        engine.close()
