"""Reading a model's numbers: its Prometheus endpoint (exposition format, parsed by
prometheus_client's own parser) and, optionally, a PromQL query against a Prometheus server."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from mlops_tui.errors import MetricsError


def fetch(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET `url`; returns (HTTP status, body). Raises MetricsError when nothing answers."""
    if not url.startswith(("http://", "https://")):
        raise MetricsError(f"not an HTTP URL: {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read(1_000_000)
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MetricsError(f"{url}: {reason}") from None


def parse(text: str) -> dict[str, float]:
    """Each sample name's value; a name with several label sets keeps its highest value, the
    worst case for a threshold. Raises MetricsError on text that is not the exposition format."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                v = float(sample.value)
                if sample.name not in values or v > values[sample.name]:
                    values[sample.name] = v
    except (ValueError, TypeError, IndexError) as exc:
        raise MetricsError(f"not Prometheus metrics: {exc}") from None
    return values


def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    status, body = fetch(url, timeout)
    if not 200 <= status < 300:
        raise MetricsError(f"{url} answered HTTP {status}")
    return parse(body.decode(errors="replace"))


def query(base: str, promql: str, timeout: float = 10.0) -> dict[str, float]:
    """Run `promql` through Prometheus's HTTP API (/api/v1/query). Returns each result's
    metric name (`promql` when it has none, as for an aggregation) and value, highest kept."""
    url = base.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    status, body = fetch(url, timeout)
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise MetricsError(f"{base} answered HTTP {status} without JSON") from None
    if doc.get("status") != "success":
        raise MetricsError(f"Prometheus refused the query: {doc.get('error') or status}")
    data = doc.get("data", {})
    out: dict[str, float] = {}
    if data.get("resultType") == "scalar":
        return {"promql": float(data["result"][1])}
    for item in data.get("result", []):
        name = item.get("metric", {}).get("__name__", "promql")
        v = float(item["value"][1])
        out[name] = max(v, out.get(name, v))
    return out
