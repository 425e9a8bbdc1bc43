"""What clean-up needs from the Docker engine: the tool's images and stopped containers,
found by the labels builds and deploys put on them, and their removal without force (the
engine itself then refuses to remove an image a container still uses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docker.errors import APIError, DockerException, NotFound

from mlops_tui.adapters.docker_engine import DockerEngine, _engine_reason
from mlops_tui.errors import EngineError

MODEL_LABEL = "io.mlops-tui.model"
VERSION_LABEL = "io.mlops-tui.version"
INPUTS_LABEL = "io.mlops-tui.inputs"


@dataclass(frozen=True)
class Found:
    kind: str  # "image" or "container"
    id: str
    model: str
    version: int | None
    ref: str  # the image's tag (or short id), the container's name
    size: int = 0
    image_id: str = ""  # the image's id, or the image a container runs
    inputs: str | None = None  # the version's inputs label, set by builds


def _version(labels: dict[str, str]) -> int | None:
    raw = (labels or {}).get(VERSION_LABEL, "")
    return int(raw) if raw.isdigit() else None


def _guard(fn: Any) -> Any:
    try:
        return fn()
    except DockerException as exc:
        raise EngineError(f"cannot reach the Docker engine: {_engine_reason(exc)}") from None


# Both listings read the engine's list endpoints alone: the SDK's high-level lists inspect
# every item afterwards, and an item someone else removes in between (another clean-up, a
# CI job on the same engine) would fail the whole listing with "No such container".


def images(engine: DockerEngine) -> list[Found]:
    """One entry per tag (a tag is what a person sees); an untagged image by its id."""
    out = []
    for image in _guard(lambda: engine.api.images(filters={"label": MODEL_LABEL})):
        labels = image.get("Labels") or {}
        image_id = str(image["Id"])
        size = int(image.get("Size") or 0)
        tags = [t for t in image.get("RepoTags") or () if t != "<none>:<none>"]
        for ref in tags or [image_id[:19]]:  # the short id the SDK shows: sha256: + 12
            out.append(Found("image", image_id, labels[MODEL_LABEL], _version(labels), ref, size))
    return out


def stopped_containers(engine: DockerEngine) -> list[Found]:
    out = []
    for status in ("exited", "created", "dead"):
        found = _guard(
            lambda s=status: engine.api.containers(
                all=True, filters={"label": MODEL_LABEL, "status": s}
            )
        )
        for c in found:
            labels = c.get("Labels") or {}
            name = str((c.get("Names") or ["/" + c["Id"][:12]])[0]).lstrip("/")
            model, version = labels[MODEL_LABEL], _version(labels)
            image_id = str(c.get("ImageID") or "")
            out.append(Found("container", c["Id"], model, version, name, 0, image_id))
    return out


def remove(engine: DockerEngine, item: Found) -> str | None:
    """Remove one image tag or one stopped container; the engine's refusal as text, or None.
    Gone already counts as removed."""
    try:
        if item.kind == "container":
            engine.api.remove_container(item.id, v=False, force=False)
        else:
            untagged = item.ref.startswith("sha256:")
            engine.api.remove_image(item.id if untagged else item.ref, force=False)
    except NotFound:
        return None
    except APIError as exc:
        return str(exc.explanation or exc)
    except DockerException as exc:
        raise EngineError(f"cannot reach the Docker engine: {_engine_reason(exc)}") from None
    return None
