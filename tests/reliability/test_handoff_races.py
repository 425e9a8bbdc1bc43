"""Two people hand over the same model at the same moment, each on their own connection:
one handoff is made and the other refused, on PostgreSQL as on SQLite (AlreadyExists, exit
2, naming the handoff that won), never an internal error."""

from __future__ import annotations

import threading

from mlops_tui.domain import Handoff, HandoffStatus
from mlops_tui.errors import AlreadyExists
from mlops_tui.services import handoffs, lifecycle, team
from mlops_tui.services.context import Context
from mlops_tui.store import open_store

ROUNDS = 25
WAIT_S = 30  # every wait in the test is bounded


def test_simultaneous_handoffs_of_one_model_make_one_and_refuse_the_other(
    db_url: str, ctx: Context
) -> None:
    team.add_user(ctx, "alice", role="admin")
    for name in ("bob", "carol", "dave"):
        team.add_user(ctx, name, role="member")
    models = [f"m{i:02d}" for i in range(ROUNDS)]
    for name in models:
        lifecycle.add_model(ctx, name, owner="bob")
    # The owner hands each model to carol while an admin hands it to dave.
    senders = {"bob": "carol", "alice": "dave"}
    together = threading.Barrier(len(senders), timeout=WAIT_S)
    outcomes: dict[str, list[object]] = {name: [] for name in models}
    lock = threading.Lock()

    def sender(actor: str, to: str) -> None:
        with open_store(db_url) as store:
            mine = Context(store, actor)
            for name in models:
                together.wait()
                try:
                    result: object = handoffs.request(mine, name, to=to)
                except Exception as exc:  # a refusal, or what `mlops` calls an internal error
                    result = exc
                with lock:
                    outcomes[name].append(result)

    threads = [threading.Thread(target=sender, args=item) for item in senders.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S * 2)
    assert not any(t.is_alive() for t in threads)

    for name in models:
        made = [o for o in outcomes[name] if isinstance(o, Handoff)]
        refused = [o for o in outcomes[name] if not isinstance(o, Handoff)]
        assert len(made) == 1 and len(refused) == 1, (name, outcomes[name])
        (won,), (lost,) = made, refused
        assert isinstance(lost, AlreadyExists), (name, repr(lost))
        assert lost.exit_code == 2
        assert lost.cli_message == (
            f"{name} already has a pending handoff #{won.id} to {won.to_user}: "
            f"cancel it first; `mlops handoff cancel {won.id}`"
        )
        pending = handoffs.pending(ctx, model=name)
        assert [h.id for h in pending] == [won.id]
        assert pending[0].status == HandoffStatus.PENDING
        requested = [e for e in ctx.store.history(model=name) if e.kind == "handoff.requested"]
        assert [e.data["handoff"] for e in requested] == [won.id]  # one event, the winner's
