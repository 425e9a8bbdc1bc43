"""What goes out after a write: the outboxes other systems are kept in step by.

Each relay sends only what its outbox already holds, briefly, and never raises: the command
that wrote has succeeded, and what did not go out waits for the next write or the relay's
own command (`mlops webhook deliver`, `mlops mlflow sync`).
"""

from __future__ import annotations

from mlops_tui.services import webhooks
from mlops_tui.services.context import Context
from mlops_tui.store import schema


def after_write(ctx: Context) -> None:
    """Deliver the webhooks due and push the MLflow aliases deployments moved."""
    webhooks.after_write(ctx)
    try:
        linked = ctx.store.row(schema.MLFLOW_LINKS) is not None
    except Exception:
        return
    if linked:  # the bridge is imported only by teams that use it
        from mlops_tui.services import mlflow_bridge

        mlflow_bridge.after_write(ctx)
