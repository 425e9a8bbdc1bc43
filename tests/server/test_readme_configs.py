"""The README's `prometheus.yml`, rules and `alertmanager.yml` are what Prometheus's and
Alertmanager's own checkers accept: a team copies them as they are."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.promstack import find_binary

README = Path(__file__).parents[2] / "README.md"


def block(name: str) -> str:
    """The YAML block of the README that starts with `# NAME`."""
    found = re.search(rf"```yaml\n# {re.escape(name)}\n(.*?)```", README.read_text(), re.S)
    assert found, f"the README has no {name} block"
    return found.group(1)


def check(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_s_prometheus_and_alertmanager_files_are_valid(tmp_path: Path) -> None:
    token = tmp_path / "mlops-token"
    token.write_text("mlops_secret\n")
    for name in ("prometheus.yml", "mlops-rules.yml", "alertmanager.yml"):
        text = block(name)
        for path in ("/etc/prometheus/mlops-token", "/etc/alertmanager/mlops-token"):
            text = text.replace(path, str(token))
        (tmp_path / name).write_text(text)
    promtool = str(Path(find_binary("prometheus")).with_name("promtool"))
    check(promtool, "check", "config", str(tmp_path / "prometheus.yml"))  # and its rules
    amtool = str(Path(find_binary("prometheus-alertmanager")).with_name("amtool"))
    check(amtool, "check-config", str(tmp_path / "alertmanager.yml"))
