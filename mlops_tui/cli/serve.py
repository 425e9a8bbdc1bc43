"""`mlops serve`: the registry over HTTP for Prometheus, Alertmanager and CI."""

from __future__ import annotations

import typer

DEFAULT_LISTEN = "127.0.0.1:9465"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets) as (host, port)."""
    from mlops_tui.errors import InvalidInput

    host, sep, port = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"invalid address {text!r}: give HOST:PORT, e.g. {DEFAULT_LISTEN}")
    if any(c.isspace() or c in "/@?#" for c in host):
        raise InvalidInput(f"invalid host {host!r} in {text!r}")
    return host, int(port)


def serve(
    listen: str = typer.Option(
        DEFAULT_LISTEN, "--listen", metavar="HOST:PORT", help="Where to listen."
    ),
    model_label: str = typer.Option(
        "model",
        "--model-label",
        metavar="LABEL",
        help="The Alertmanager label that names an alert's model.",
    ),
) -> None:
    """Serve /metrics to Prometheus and take Alertmanager's and CI's hooks, with tokens.

    Requests carry `Authorization: Bearer TOKEN` (`mlops token create`) and act as the
    token's person. SIGTERM or Ctrl+C stops it cleanly.
    """
    from mlops_tui import config
    from mlops_tui.cli.common import current_settings
    from mlops_tui.server.run import serve as run

    host, port = parse_listen(listen)
    run(config.database_url(current_settings().db), host, port, model_label=model_label)
