"""A real Docker engine for the tests: the running one, or `dockerd` started here with no
bridge and no iptables (so no traffic leaves 127.0.0.0/8), plus a busybox base image made
locally with `docker import` (no registry is reachable)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time

BASE_IMAGE = "mlops-busybox:local"
APPLETS = ("sh", "httpd", "echo", "cat", "ls", "sleep", "wget", "false", "true", "printf")


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
    """Import a busybox image from Debian's busybox-static; None when busybox is missing."""
    import docker

    try:
        client.images.get(BASE_IMAGE)
        return BASE_IMAGE
    except docker.errors.ImageNotFound:
        pass
    busybox = shutil.which("busybox")
    if busybox is None:
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
    client.api.import_image_from_data(
        buf.getvalue(), repository=BASE_IMAGE.split(":")[0], tag=BASE_IMAGE.split(":")[1]
    )
    return BASE_IMAGE
