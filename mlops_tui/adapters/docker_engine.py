"""The Docker engine, through the Docker SDK: builds from a tar of committed files, with the
log streamed line by line and the engine's failures turned into one clear message."""

from __future__ import annotations

import contextlib
import io
import shutil
import tarfile
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO, Any

import docker
from docker.errors import APIError, DockerException

from mlops_tui.errors import BuildCancelled, BuildFailed, EngineError

#: The base `local_base` makes, and the busybox applets it links.
LOCAL_BASE = "mlops-busybox:local"
APPLETS = ("sh", "httpd", "echo", "cat", "ls", "sleep", "wget", "false", "true", "printf")


def _busybox_tar(busybox: str) -> bytes:
    """A root filesystem of one static busybox and its applets' links, and a /tmp."""
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
    return buf.getvalue()


@dataclass(frozen=True)
class BuiltImage:
    id: str
    tag: str


def _engine_reason(exc: BaseException) -> str:
    text = str(exc)
    if "Connection refused" in text or "No such file" in text or "FileNotFoundError" in text:
        return "is it running? (start dockerd, or set DOCKER_HOST)"
    if "Permission denied" in text:
        return "permission denied on the Docker socket (are you in the docker group?)"
    return text.splitlines()[0] if text else type(exc).__name__


class DockerEngine:
    def __init__(self, timeout: int = 30) -> None:
        try:
            self.client = docker.from_env(timeout=timeout)
            self.client.ping()
        except DockerException as exc:
            raise EngineError(f"cannot reach the Docker engine: {_engine_reason(exc)}") from None
        self.api = self.client.api

    def close(self) -> None:
        self.client.close()

    def build(
        self,
        context: IO[bytes],
        *,
        tag: str,
        dockerfile: str,
        labels: dict[str, str],
        build_args: dict[str, str],
        target: str | None = None,
        network_mode: str = "host",
        cancel: threading.Event | None = None,
    ) -> Generator[str, None, BuiltImage]:
        """Build and yield log lines; the generator's return value is the BuiltImage.

        Raises BuildFailed with the failing step's message, BuildCancelled when `cancel` is
        set (the connection is closed, which makes the engine stop the build).
        """
        try:
            stream = self.api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                dockerfile=dockerfile,
                labels=labels,
                buildargs=build_args,
                target=target,
                rm=True,
                forcerm=True,
                decode=True,
                network_mode=network_mode,
            )
        except APIError as exc:
            raise BuildFailed(exc.explanation or str(exc)) from None
        except DockerException as exc:
            raise EngineError(f"cannot reach the Docker engine: {_engine_reason(exc)}") from None
        image_id = None
        last_step = ""
        step_container: list[str] = []
        finished = threading.Event()
        if cancel is not None:
            threading.Thread(
                target=self._stop_on_cancel, args=(cancel, finished, step_container), daemon=True
            ).start()
        try:
            for chunk in stream:
                if cancel is not None and cancel.is_set():
                    raise BuildCancelled("the build was cancelled")
                if "error" in chunk:
                    if cancel is not None and cancel.is_set():
                        raise BuildCancelled("the build was cancelled")
                    detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    step = f" at {last_step}" if last_step else ""
                    raise BuildFailed(f"{detail.strip()}{step}")
                if "aux" in chunk and isinstance(chunk["aux"], dict):
                    image_id = chunk["aux"].get("ID", image_id)
                text = chunk.get("stream") or chunk.get("status") or ""
                for line in text.splitlines():
                    if " Running in " in line:
                        step_container[:] = [line.rsplit(" ", 1)[-1].strip()]
                    if line.startswith("Step "):
                        last_step = line.split(" : ", 1)[0].lower()
                    if line.strip():
                        yield line
        except DockerException as exc:
            raise EngineError(f"lost the Docker engine mid-build: {_engine_reason(exc)}") from None
        finally:
            finished.set()
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        if image_id is None:
            image_id = self.image(tag)["Id"]
        return BuiltImage(image_id, tag)

    def _stop_on_cancel(
        self, cancel: threading.Event, finished: threading.Event, step: list[str]
    ) -> None:
        """A step that prints nothing (RUN sleep 600) must still stop when cancelled: kill
        the container running the step, which ends the build at once."""
        while not finished.wait(0.2):
            if cancel.is_set():
                if step:
                    with contextlib.suppress(DockerException):
                        self.api.kill(step[0])
                return

    def image(self, ref: str) -> dict[str, Any]:
        try:
            # The images collection makes the same inspect call, and its typing is complete.
            return self.client.images.get(ref).attrs
        except APIError as exc:
            raise EngineError(f"no image {ref}: {exc.explanation or exc}") from None

    def local_base(self) -> str:
        """A small base image made here, with no registry: Debian's busybox-static imported
        as `mlops-busybox:local` (a shell, httpd, wget and a few tools). The demo's example
        model builds on it, offline. Raises EngineError saying what to install."""
        try:
            self.client.images.get(LOCAL_BASE)
            return LOCAL_BASE
        except docker.errors.ImageNotFound:
            pass
        except DockerException as exc:
            raise EngineError(f"cannot reach the Docker engine: {_engine_reason(exc)}") from None
        busybox = shutil.which("busybox")
        if busybox is None:
            raise EngineError(
                f"no base image {LOCAL_BASE} and no busybox to make one from: install "
                "busybox-static (apt-get install busybox-static), or tag any image that has "
                f"sh and httpd as {LOCAL_BASE}"
            )
        repository, tag = LOCAL_BASE.split(":")
        self._call(
            f"making {LOCAL_BASE}",
            lambda: self.api.import_image_from_data(
                _busybox_tar(busybox), repository=repository, tag=tag
            ),
        )
        return LOCAL_BASE

    # -- containers (tests in the image, deployments) -----------------------------------
    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except APIError as exc:
            raise EngineError(f"{what}: {exc.explanation or exc}") from None
        except DockerException as exc:
            raise EngineError(f"cannot reach the Docker engine: {_engine_reason(exc)}") from None

    def container(self, name: str) -> Any | None:
        """The container called `name` (running or not), or None."""
        from docker.errors import NotFound

        try:
            return self.client.containers.get(name)
        except NotFound:
            return None
        except DockerException as exc:
            raise EngineError(f"cannot reach the Docker engine: {_engine_reason(exc)}") from None

    def run(
        self,
        image: str,
        *,
        name: str | None = None,
        command: list[str] | None = None,
        environment: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        network_mode: str = "host",
    ) -> Any:
        """Start a detached container; the caller waits, stops and removes it."""
        return self._call(
            f"cannot start {image}",
            lambda: self.client.containers.run(
                image,
                command=command,
                name=name,
                detach=True,
                environment=environment or {},
                labels=labels or {},
                network_mode=network_mode,
            ),
        )

    def logs(self, container: Any, cancel: threading.Event | None = None) -> Iterator[str]:
        """The container's output line by line, until it exits (or `cancel` is set and the
        caller kills it)."""
        buf = b""
        try:
            for chunk in container.logs(stream=True, follow=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    yield line.decode(errors="replace")
                if cancel is not None and cancel.is_set():
                    return
        except DockerException as exc:
            raise EngineError(f"lost the Docker engine: {_engine_reason(exc)}") from None
        if buf:
            yield buf.decode(errors="replace")

    def exit_code(self, container: Any, timeout: float = 30) -> int:
        result = self._call("waiting for a container", lambda: container.wait(timeout=timeout))
        return int(result.get("StatusCode", 1))

    def state(self, container: Any) -> dict[str, Any]:
        """Docker's State of the container: Status, Running, ExitCode…"""
        self._call("inspecting a container", container.reload)
        return dict(container.attrs.get("State", {}))

    def stop(self, container: Any, timeout: int = 5) -> None:
        self._call("cannot stop a container", lambda: container.stop(timeout=timeout))

    def start(self, container: Any) -> None:
        self._call("cannot start a container", container.start)

    def remove(self, container: Any) -> None:
        """Remove even a running container; one already gone is fine."""
        from docker.errors import NotFound

        with contextlib.suppress(NotFound):
            self._call("cannot remove a container", lambda: container.remove(force=True))

    def rename(self, container: Any, name: str) -> None:
        self._call(f"cannot rename a container to {name}", lambda: container.rename(name))

    def keep_running(self, container: Any) -> None:
        """Restart it with the engine (after a reboot or a daemon restart) until someone
        stops it. Set only once it is healthy: with the policy on from the start, a
        container that exits would be restarted and the health check could not tell."""
        self._call(
            "cannot set the restart policy",
            lambda: container.update(restart_policy={"Name": "unless-stopped"}),
        )

    def read_file(self, container: Any, path: str) -> bytes | None:
        """A file from a (stopped) container, or None when it is not there."""
        import io
        import os
        import tarfile

        from docker.errors import NotFound

        try:
            stream, _ = container.get_archive(path)
        except NotFound:
            return None
        except DockerException as exc:
            raise EngineError(f"cannot read {path}: {_engine_reason(exc)}") from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(os.path.basename(path))
            return member.read() if member is not None else None

    def logs_tail(self, container: Any, lines: int = 20) -> list[str]:
        """The container's last output lines, for a failure's explanation."""
        try:
            raw: bytes = container.logs(tail=lines)
        except DockerException:
            return []
        return raw.decode(errors="replace").splitlines()
