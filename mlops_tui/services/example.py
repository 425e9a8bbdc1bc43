"""The demo's example model: a real Git repository, in the demo's folder, that the whole loop
runs on offline. Its image is a busybox made locally (no registry), whose `httpd` serves two
committed files, `www/health` and `www/metrics`; its tests are a shell script with a JUnit
report. Editing the drift score in `www/metrics` and committing is the one step that makes a
new version drift, so a newcomer sees the alert, the model back in Plan and a rollback.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from mlops_tui.adapters.docker_engine import LOCAL_BASE
from mlops_tui.errors import MlopsError
from mlops_tui.services import lifecycle
from mlops_tui.services.context import Context
from mlops_tui.store import Change

NAME = "iris-classifier"
#: The port it serves on when free (127.0.0.1, host network), else any free one.
PORT = 18080
#: The drift score a fresh example reports, and the one the walk-through commits.
CALM, DRIFTING = 0.05, 0.45

WALKTHROUGH = """\
# {name}: the whole loop, from the keyboard

A real model project for `mlops`: `Dockerfile` builds an image (on {base}, a busybox made
locally) whose web server serves `www/health` and `www/metrics` on 127.0.0.1:{port}.

In `mlops` (the board), select {name} in Plan, then:

1. `m` then `enter`: move it to Build.   `enter` opens it; `b` builds v1 (the log streams).
2. `m`: to Test.   `t` runs `tests.sh` in the image (a JUnit report of two tests).
3. `m`: to Deploy.   `d` deploys v1: a container on port {port}, kept only if /health answers.
4. `m`: to Monitor.   `C` checks its health: `model_drift_score` {calm} is ok.

Make it drift: change the score in `www/metrics` and commit, here in a shell

    sed -i 's/{calm}/{drifting}/' www/metrics && git commit -am "retrained on March data"

(or `g` in mlops, then `c` to commit). Then, from Monitor, `m` to Plan and build, test and
deploy v2 as above, and press `C`: {drifting} is over the critical threshold (0.3), an alert
opens and the model goes back to Plan. `R` rolls production back to v1, which is calm again.
"""


def files(port: int) -> dict[str, str]:
    """The example's committed files: what `mlops build`, `test`, `deploy` and `check` read."""
    return {
        "Dockerfile": (
            f"FROM {LOCAL_BASE}\n"
            "COPY www /www\n"
            "COPY tests.sh /tests.sh\n"
            'CMD ["sh", "-c", "exec httpd -f -p 127.0.0.1:$PORT -h /www"]\n'
        ),
        "mlops.toml": f"""\
[build]
dockerfile = "Dockerfile"
context = "."

[data]
ref = "file://data/iris.csv"
params = {{ max_depth = 3 }}

[test]
command = ["sh", "/tests.sh"]
in_image = true
junit = "report.xml"
timeout = "1m"

[deploy]
port = {port}
health = "/health"
timeout = "15s"

[monitor]
metrics = "/metrics"
max_age = "24h"
on_drift = "plan"

[[monitor.threshold]]
metric = "model_drift_score"
warn = 0.2
critical = 0.3
""",
        "tests.sh": (
            "# The model's tests: two checks, reported as JUnit for the test gate.\n"
            'printf \'<testsuite name="iris"><testcase name="loads"/>'
            '<testcase name="predicts"/></testsuite>\' > report.xml\n'
            'echo "2 tests passed"\n'
        ),
        "www/health": "ok\n",
        "www/metrics": (
            "# HELP model_drift_score How far live inputs are from the training data.\n"
            "# TYPE model_drift_score gauge\n"
            f"model_drift_score {CALM}\n"
        ),
        "README.md": WALKTHROUGH.format(
            name=NAME, base=LOCAL_BASE, port=port, calm=CALM, drifting=DRIFTING
        ),
    }


def free_port(preferred: int = PORT) -> int:
    """`preferred` when nothing listens there, else a port the system picks."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")  # pragma: no cover - binding 0 always works


def create(ctx: Context, folder: str) -> Change:
    """The example repository in `folder` (made once; kept if it is there) and its model,
    owned by the person running the demo, in Plan."""
    from mlops_tui.adapters.git_repo import GitRepo

    path = os.path.join(os.path.abspath(folder), NAME)
    if not os.path.isdir(os.path.join(path, ".git")):  # GitRepo.create makes the folder
        message = "An example model to take round the loop"
        GitRepo.create(path, files(free_port()), message, ctx.actor)
    return lifecycle.add_model(
        ctx,
        NAME,
        owner=ctx.actor,
        repo=path,
        description="Example: a served model to take round the loop (see its README.md)",
        tags=["example"],
    )


def docker_note() -> str | None:
    """None when the example can be built and deployed here, else the one line that says
    why not and what to install; the rest of the demo works either way."""
    from mlops_tui.adapters.docker_engine import DockerEngine

    try:
        engine = DockerEngine(timeout=5)
    except MlopsError as exc:
        return (
            f"{exc.reason}: the example model ({NAME}) is tracked, but building, testing and "
            "deploying it need Docker (install docker.io and start dockerd)"
        )
    try:
        engine.local_base()
    except MlopsError as exc:
        return f"{exc.reason}: until then {NAME} cannot be built"
    finally:
        engine.close()
    return None


def folder_for(database: str) -> str:
    """Where the example's repository goes: next to a SQLite database, else in the user's
    data folder."""
    from mlops_tui import config
    from mlops_tui.store import is_postgres_url, sqlite_path

    if not is_postgres_url(database):
        return str(Path(sqlite_path(database)).resolve().parent)
    return str(Path(config.data_dir()) / "demo")
