"""Clean-up on the real Docker engine: old images and stopped containers go; production, the
previous production, tagged versions and the current iteration's stay; all recorded."""

from __future__ import annotations

import contextlib
import io
import uuid

import pytest

from mlops_tui.services import builds, deploys, gc, gitops, lifecycle, queries
from mlops_tui.services.context import Context


@pytest.fixture
def model_name(docker_client):
    name = f"gc-{uuid.uuid4().hex[:10]}"
    yield name
    for c in docker_client.containers.list(
        all=True, filters={"label": f"io.mlops-tui.model={name}"}
    ):
        with contextlib.suppress(Exception):
            c.remove(force=True)
    for image in docker_client.images.list(filters={"label": f"io.mlops-tui.model={name}"}):
        with contextlib.suppress(Exception):
            docker_client.images.remove(image.id, force=True)


def build_version(ctx: Context, gitrepo, name: str, n: int) -> int:
    gitrepo.commit(f"v{n}", Dockerfile="FROM scratch\nCOPY w.txt /w.txt\n", **{"w.txt": str(n)})
    return builds.build(ctx, name).build.version


def tags(docker_client, name: str) -> set[str]:
    out = set()
    for image in docker_client.images.list(filters={"label": f"io.mlops-tui.model={name}"}):
        out.update(image.tags)
    return out


def test_gc_keeps_what_is_live_and_records_what_it_removes(
    ctx: Context, gitrepo, docker_client, model_name: str
) -> None:
    name = model_name
    lifecycle.add_model(ctx, name, owner="alice", repo=str(gitrepo.path))
    lifecycle.move(ctx, name, "build")
    for n in (1, 2):
        build_version(ctx, gitrepo, name, n)
    lifecycle.move(ctx, name, "deploy", force=True, note="tests ran elsewhere")
    deploys.record(ctx, name, version=1)  # then v2: v1 becomes the previous production
    deploys.record(ctx, name, version=2)
    lifecycle.move(ctx, name, "build", note="next versions")
    build_version(ctx, gitrepo, name, 3)
    gitops.tag(ctx, name)  # v3 is tagged
    for n in (4, 5):
        build_version(ctx, gitrepo, name, n)
    lifecycle.move(ctx, name, "monitor", force=True, note="skip to monitor")
    lifecycle.move(ctx, name, "plan")  # a new iteration
    lifecycle.move(ctx, name, "build")
    build_version(ctx, gitrepo, name, 6)  # the current iteration's
    labels = {"io.mlops-tui.model": name}
    old = docker_client.containers.create(
        f"{name}:v4",
        command=["/w.txt"],  # created, never started: a stopped container
        name=f"mlops-{name}-old",
        labels={**labels, "io.mlops-tui.version": "4"},
    )
    prod = docker_client.containers.create(
        f"{name}:v2",
        command=["/w.txt"],
        name=f"mlops-{name}-prod",
        labels={**labels, "io.mlops-tui.version": "2"},
    )
    # Another database's model of the same name: same labels, other inputs. Never touched.
    docker_client.images.build(
        fileobj=io.BytesIO(
            f"FROM scratch\nLABEL io.mlops-tui.model={name} io.mlops-tui.version=5 "
            "io.mlops-tui.inputs=not-ours\n".encode()
        ),
        tag=f"{name}-elsewhere:v5",
        rm=True,
    )
    everything = {f"{name}:v{n}" for n in range(1, 7)} | {f"{name}-elsewhere:v5"}
    assert tags(docker_client, name) == everything
    head = ctx.store.head()

    dry = gc.collect(ctx, dry_run=True)
    going = sorted((d.item.kind, d.item.ref) for d in dry.decisions if d.keep is None)
    assert going == [
        ("container", f"mlops-{name}-old"),
        ("image", f"{name}:v4"),
        ("image", f"{name}:v5"),
    ]
    kept = {d.item.ref: d.keep for d in dry.kept}
    assert kept[f"{name}:v1"] == "previous production"
    assert kept[f"{name}:v2"] == "production"
    assert kept[f"{name}:v3"] == f"tagged {name}@v3.0.0"
    assert kept[f"{name}:v6"] == "candidate"
    assert kept[f"mlops-{name}-prod"] == "production"
    assert ctx.store.head() == head and tags(docker_client, name) == everything

    report = gc.collect(ctx)
    assert len(report.removed) == 3 and not report.failed
    assert tags(docker_client, name) == everything - {f"{name}:v4", f"{name}:v5"}
    names = {
        c.name
        for c in docker_client.containers.list(
            all=True, filters={"label": f"io.mlops-tui.model={name}"}
        )
    }
    assert names == {prod.name}
    assert old.name not in names
    (event,) = queries.history(ctx, model=name, limit=1)
    assert event.kind == "gc.removed" and event.actor == "alice"
    assert event.data["images"] == [f"{name}:v4", f"{name}:v5"]
    assert event.data["containers"] == [f"mlops-{name}-old"]
    assert event.data["versions"] == [4, 5]
    assert gc.collect(ctx).removed == []  # nothing more to do, nothing recorded
    assert queries.history(ctx, model=name, limit=1)[0].id == event.id
