"""`mlops.toml`: how a model is built, tested, deployed and monitored, kept with its code.

The file is read from the committed tree being built, never from the working copy, so the
configuration is part of what a version is. Every key is checked: a typo is refused with the
file, the key and the reason rather than silently ignored.
"""

from __future__ import annotations

import math
import posixpath
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from mlops_tui.errors import ConfigError

FILENAME = "mlops.toml"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Durations are added to the clock (when a check goes stale, a deadline): past a century
# that addition overflows datetime somewhere, so refuse it here with the key's name.
MAX_DURATION = 100 * 365 * 86400.0


def parse_duration(value: str, where: str) -> float:
    """`30s`, `5m`, `24h`, `7d` (or a bare number of seconds), in seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif m := _DURATION.fullmatch(str(value).strip()):
        seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    else:
        raise ConfigError(where, f"{value!r} is not a duration (use 30s, 5m, 24h, 7d)")
    # A negative, zero, NaN or infinite timeout would fire at once or never.
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(where, f"{value!r} must be a duration above zero (30s, 5m, 24h, 7d)")
    if seconds > MAX_DURATION:
        raise ConfigError(where, f"{value!r} is too long (at most 36500d)")
    return seconds


@dataclass(frozen=True)
class Threshold:
    metric: str
    warn: float | None = None
    critical: float | None = None


@dataclass(frozen=True)
class ModelConfig:
    # [build]
    dockerfile: str = "Dockerfile"
    context: str = "."
    build_args: dict[str, str] = field(default_factory=dict)
    image: str | None = None
    target: str | None = None
    # [data]
    data_ref: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    params_file: str | None = None
    # [test]
    test_command: list[str] = field(default_factory=list)
    test_in_image: bool = False
    test_junit: str | None = None
    test_timeout: float = 3600.0
    # [deploy]
    deploy_port: int | None = None
    deploy_health: str | None = None
    deploy_health_command: list[str] = field(default_factory=list)
    deploy_timeout: float = 30.0
    deploy_command: list[str] = field(default_factory=list)
    deploy_env: dict[str, str] = field(default_factory=dict)
    # [monitor]
    monitor_metrics: str | None = None
    monitor_max_age: float = 86400.0
    monitor_on_drift: str = "alert"
    monitor_thresholds: tuple[Threshold, ...] = ()
    monitor_prometheus: str | None = None
    monitor_query: str | None = None


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(where, "must be a non-empty string")
    return v


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(where, "must be true or false")
    return v


def _argv(v: Any, where: str) -> list[str]:
    if not isinstance(v, list) or not v or not all(isinstance(a, str) and a for a in v):
        raise ConfigError(where, 'must be a list of strings, e.g. ["pytest", "-q"] (no shell)')
    return list(v)


def _str_table(v: Any, where: str) -> dict[str, str]:
    if not isinstance(v, dict):
        raise ConfigError(where, "must be a table of names to strings")
    out = {}
    for k, item in v.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ConfigError(f"{where}.{k}", "must be a string or a number")
        out[str(k)] = str(item)
    return out


def _port(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        raise ConfigError(where, "must be a port number from 1 to 65535")
    return v


def _path(v: Any, where: str) -> str:
    """A path inside the repository, in the one spelling Git's tree lookups know: `./`,
    `sub/` and `./Dockerfile` mean `.`, `sub` and `Dockerfile`. `..` is refused even where it
    would come back inside (`a/../b`): `a` may be a symlink leading anywhere."""
    s = _str(v, where)
    if any(unicodedata.category(c).startswith("C") for c in s):
        raise ConfigError(where, f"{s[:80]!r} contains control characters")
    if s.startswith("/") or ".." in s.replace("\\", "/").split("/"):
        raise ConfigError(
            where, f"{s[:80]!r} must be a path inside the repository (no leading / or ..)"
        )
    return posixpath.normpath(s)


def _url_path(v: Any, where: str) -> str:
    s = _str(v, where)
    if not s.startswith("/"):
        raise ConfigError(where, "must be an HTTP path starting with / (e.g. /health)")
    return s


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(where, "must be a number")
    return float(v)


def _thresholds(v: Any, where: str) -> tuple[Threshold, ...]:
    if not isinstance(v, list):
        raise ConfigError(where, "must be an array of tables ([[monitor.threshold]])")
    out = []
    for i, item in enumerate(v):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(at, "must be a table")
        _no_unknown(item, {"metric", "warn", "critical"}, at)
        if "metric" not in item:
            raise ConfigError(at, "needs metric")
        warn = _number(item["warn"], f"{at}.warn") if "warn" in item else None
        crit = _number(item["critical"], f"{at}.critical") if "critical" in item else None
        if warn is None and crit is None:
            raise ConfigError(at, "needs warn or critical")
        out.append(Threshold(_str(item["metric"], f"{at}.metric"), warn, crit))
    return tuple(out)


def _on_drift(v: Any, where: str) -> str:
    if not isinstance(v, str) or v not in ("plan", "alert"):
        raise ConfigError(where, 'must be "plan" or "alert"')
    return v


# table -> key -> (field name, checker)
_SCHEMA: dict[str, dict[str, tuple[str, Any]]] = {
    "build": {
        "dockerfile": ("dockerfile", _path),
        "context": ("context", _path),
        "args": ("build_args", _str_table),
        "image": ("image", _str),
        "target": ("target", _str),
    },
    "data": {
        "ref": ("data_ref", _str),
        "params": ("params", lambda v, w: v if isinstance(v, dict) else _bad_params(w)),
        "params_file": ("params_file", _path),
    },
    "test": {
        "command": ("test_command", _argv),
        "in_image": ("test_in_image", _bool),
        "junit": ("test_junit", _path),
        "timeout": ("test_timeout", parse_duration),
    },
    "deploy": {
        "port": ("deploy_port", _port),
        "health": ("deploy_health", _url_path),
        "health_command": ("deploy_health_command", _argv),
        "timeout": ("deploy_timeout", parse_duration),
        "command": ("deploy_command", _argv),
        "env": ("deploy_env", _str_table),
    },
    "monitor": {
        "metrics": ("monitor_metrics", _url_path),
        "max_age": ("monitor_max_age", parse_duration),
        "on_drift": ("monitor_on_drift", _on_drift),
        "threshold": ("monitor_thresholds", _thresholds),
        "prometheus": ("monitor_prometheus", _str),
        "query": ("monitor_query", _str),
    },
}


def _bad_params(where: str) -> dict[str, Any]:
    raise ConfigError(where, "must be a table of parameters")


def _no_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(known))})")


def parse(text: str | None, source: str = FILENAME) -> ModelConfig:
    """The configuration in `text` (None: no file, all defaults). Raises ConfigError."""
    if text is None:
        return ModelConfig()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for table, content in raw.items():
        if table not in _SCHEMA:
            raise ConfigError(
                f"{source}: [{table}]", f"unknown table (known: {', '.join(_SCHEMA)})"
            )
        if not isinstance(content, dict):
            raise ConfigError(f"{source}: {table}", "must be a table")
        schema = _SCHEMA[table]
        _no_unknown(content, set(schema), f"{source}: [{table}]")
        for key, value in content.items():
            name, check = schema[key]
            values[name] = check(value, f"{source}: [{table}].{key}")
    if "params" in values and "params_file" in values:
        raise ConfigError(f"{source}: [data]", "use params or params_file, not both")
    if values.get("deploy_health") and values.get("deploy_health_command"):
        raise ConfigError(f"{source}: [deploy]", "use health or health_command, not both")
    return ModelConfig(**values)
