"""A model that really serves: a busybox image whose own command runs `httpd` on 127.0.0.1:$PORT
(host network) over a www folder with `health` and `metrics` files, in a real Git repository
with an mlops.toml naming a free port picked now. Tests edit the files, commit, build a new
version, and watch what the tool does with it."""

from __future__ import annotations

import contextlib
import socket
import urllib.error
import urllib.request
import uuid

import pytest

METRICS = "# TYPE model_drift_score gauge\nmodel_drift_score {drift}\n"
TESTS_SH = """\
printf '<testsuite><testcase name="a"/><testcase name="b"/>%s</testsuite>' "$EXTRA" > report.xml
echo "running the model's tests"
exit "${FAIL:-0}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml(port: int, *, health: str = "/health", extra: str = "", on_drift: str = "plan") -> str:
    return f"""\
[test]
command = ["sh", "tests.sh"]
junit = "report.xml"

[deploy]
port = {port}
health = "{health}"
timeout = "8s"
{extra}
[monitor]
metrics = "/metrics"
max_age = "1h"
on_drift = "{on_drift}"

[[monitor.threshold]]
metric = "model_drift_score"
warn = 0.2
critical = 0.3
"""


def dockerfile(base: str) -> str:
    return (
        f"FROM {base}\nCOPY www /www\n"
        'CMD ["sh", "-c", "exec httpd -f -p 127.0.0.1:$PORT -h /www"]\n'
    )


def get(port: int, path: str) -> tuple[int, str]:
    """An HTTP GET on 127.0.0.1: (status, body); (0, why) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError as exc:
        return 0, str(exc)


class ServingModel:
    def __init__(self, gitrepo, base: str) -> None:
        self.git = gitrepo
        self.name = "m-" + uuid.uuid4().hex[:10]
        self.port = free_port()
        self.base = base

    def commit(
        self,
        *,
        drift: float = 0.1,
        health: str | None = "ok\n",
        toml_text: str | None = None,
        message: str = "change",
        **files: str,
    ) -> str:
        """Commit the model's files; health=None leaves out www/health (its path answers 404)."""
        extra = {} if health is None else {"www__health": health}
        if health is None:
            (self.git.path / "www" / "health").unlink(missing_ok=True)
        return self.git.commit(
            message,
            **{
                "Dockerfile": dockerfile(self.base),
                "mlops.toml": toml_text if toml_text is not None else toml(self.port),
                "tests.sh": TESTS_SH,
                "www__metrics": METRICS.format(drift=drift),
                **extra,
                **files,
            },
        )


def remove_containers(client, name: str) -> None:
    for c in client.containers.list(all=True, filters={"label": f"io.mlops-tui.model={name}"}):
        with contextlib.suppress(Exception):
            c.remove(force=True)


@pytest.fixture
def serving(gitrepo, base_image, docker_client):
    model = ServingModel(gitrepo, base_image)
    yield model
    remove_containers(docker_client, model.name)
    for image in docker_client.images.list(name=model.name):
        with contextlib.suppress(Exception):
            docker_client.images.remove(image.id, force=True)
