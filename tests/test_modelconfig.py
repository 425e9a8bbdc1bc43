"""`mlops.toml`: defaults without a file, every table read, every mistake named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_tui import modelconfig
from mlops_tui.errors import ConfigError
from mlops_tui.modelconfig import Threshold

FULL = """
[build]
dockerfile = "docker/Dockerfile"
context = "."
args = { PYTHON = "3.11", EPOCHS = 3 }
image = "registry.local/churn"

[data]
ref = "s3://bucket/train/2026-11"
params = { lr = 0.01, depth = 6 }

[test]
command = ["pytest", "-q"]
in_image = false

[deploy]
port = 8080
health = "/health"
timeout = "30s"

[monitor]
metrics = "/metrics"
max_age = "24h"
on_drift = "plan"

[[monitor.threshold]]
metric = "model_drift_score"
warn = 0.2
critical = 0.3
"""


def test_no_file_means_defaults() -> None:
    cfg = modelconfig.parse(None)
    assert (cfg.dockerfile, cfg.context, cfg.params) == ("Dockerfile", ".", {})


def test_the_documented_example_reads_back() -> None:
    cfg = modelconfig.parse(FULL)
    assert cfg.build_args == {"PYTHON": "3.11", "EPOCHS": "3"}
    assert (cfg.data_ref, cfg.params) == ("s3://bucket/train/2026-11", {"lr": 0.01, "depth": 6})
    assert (cfg.test_command, cfg.deploy_port, cfg.deploy_timeout) == (["pytest", "-q"], 8080, 30)
    assert (cfg.monitor_max_age, cfg.monitor_on_drift) == (86400, "plan")
    assert cfg.monitor_thresholds == (Threshold("model_drift_score", 0.2, 0.3),)


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("[build]\ndockerfil = 'x'", r"\[build\]\.dockerfil", "unknown key"),
        ("[deploi]\nport = 1", r"\[deploi\]", "unknown table"),
        ("[test]\ncommand = 'pytest -q'", r"\[test\]\.command", "list of strings"),
        ("[deploy]\nport = 70000", r"\[deploy\]\.port", "port number"),
        ("[deploy]\ntimeout = 'soon'", r"\[deploy\]\.timeout", "not a duration"),
        ("[build]\ncontext = '../outside'", r"\[build\]\.context", "inside the repository"),
        ("[monitor]\non_drift = 'panic'", r"\[monitor\]\.on_drift", '"plan" or "alert"'),
        ("[[monitor.threshold]]\nmetric = 'x'", r"threshold\[0\]", "needs warn or critical"),
        ("[data]\nparams = {a = 1}\nparams_file = 'p.json'", r"\[data\]", "not both"),
        ("[build\n", ":", "not valid TOML"),
    ],
)
def test_mistakes_name_the_file_key_and_reason(text: str, where: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=f"^mlops.toml.*{where}.*{reason}"):
        modelconfig.parse(text)


@pytest.mark.parametrize(
    ("key", "given", "read"),
    [
        ("context", "./", "."),
        ("context", ".//", "."),
        ("context", "sub/", "sub"),
        ("context", "./sub//deep/.", "sub/deep"),
        ("dockerfile", "./Dockerfile", "Dockerfile"),
        ("dockerfile", "docker//Dockerfile", "docker/Dockerfile"),
    ],
)
def test_paths_are_read_in_one_spelling(key: str, given: str, read: str) -> None:
    assert getattr(modelconfig.parse(f'[build]\n{key} = "{given}"\n'), key) == read


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("context", "..", "must be a path inside the repository"),
        ("context", "../", "must be a path inside the repository"),
        ("context", "sub/../..", "must be a path inside the repository"),
        ("context", "a/../b", "must be a path inside the repository"),
        ("context", "/srv/model", "must be a path inside the repository"),
        ("context", "//srv", "must be a path inside the repository"),
        ("dockerfile", "..\\\\Dockerfile", "must be a path inside the repository"),
        ("dockerfile", "Docker\\nfile", "contains control characters"),
        ("dockerfile", "Docker\\u202efile", "contains control characters"),
    ],
)
def test_escaping_paths_are_config_errors(key: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=rf"^mlops.toml: \[build\]\.{key}: .*{reason}"):
        modelconfig.parse(f'[build]\n{key} = "{value}"\n')


@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_cleanly(text: str) -> None:
    try:
        modelconfig.parse(text)
    except ConfigError as exc:
        assert exc.message.startswith("mlops.toml")
