"""People and permissions, on both backends: each rule both ways, refusals recorded."""

from __future__ import annotations

import pytest

from mlops_tui.domain import Stage, UserRole
from mlops_tui.errors import InvalidInput, NotFound, PermissionDenied
from mlops_tui.services import builds, deploys, gate, handoffs, lifecycle, queries, team
from mlops_tui.services.context import Context
from mlops_tui.services.team import resolve_actor
from tests.conftest import known


def as_(ctx: Context, actor: str) -> Context:
    return Context(ctx.store, actor, clock=ctx.clock)


@pytest.fixture
def crew(ctx: Context) -> Context:
    """alice (who runs the fixture) is the admin; bob, carol and eve members, vera a viewer,
    mia a maintainer."""
    team.add_user(ctx, "alice", role="admin")
    team.add_user(ctx, "bob", role="member")
    team.add_user(ctx, "vera", role="viewer")
    team.add_user(ctx, "mia", role="maintainer")
    team.add_user(ctx, "carol", role="member")
    team.add_user(ctx, "eve", role="member")
    return ctx


def denied(ctx: Context, fn, *args, match: str, **kwargs) -> None:
    before = len(queries.history(ctx, limit=0))
    with pytest.raises(PermissionDenied, match=match) as info:
        fn(*args, **kwargs)
    assert info.value.exit_code == 7 and info.value.title == "Not allowed"
    latest = queries.history(ctx, limit=0)
    assert len(latest) == before + 1 and latest[0].kind == "permission.denied"
    assert latest[0].actor == ctx.actor


def test_someone_new_joins_as_maintainer_with_their_first_change(ctx: Context) -> None:
    change = lifecycle.add_model(ctx, "churn", owner="alice")  # herself: she joins with it
    assert change.event.data["joined"] == "maintainer"
    (user,) = team.users(ctx)
    assert (user.name, user.role, user.active) == ("alice", UserRole.MAINTAINER, True)
    assert "alice joined as maintainer" in queries.describe(change.event)
    again = lifecycle.move(ctx, "churn", "build")
    assert "joined" not in again.event.data


def test_with_open_join_off_only_added_people_act(crew: Context) -> None:
    team.set_setting(crew, "open_join", "false")
    lifecycle.add_model(crew, "churn", owner="bob")
    zed = as_(crew, "zed")
    denied(zed, lifecycle.move, zed, "churn", "build", match="open_join is off")
    assert "zed" not in {u.name for u in team.users(crew)}
    team.set_setting(crew, "open_join", "true")
    lifecycle.move(zed, "churn", "build")
    assert "zed" in {u.name for u in team.users(crew)}


def test_viewers_read_but_never_change(crew: Context) -> None:
    lifecycle.add_model(crew, "churn", owner="bob")
    vera = as_(crew, "vera")
    assert [m.name for m in queries.models(vera)] == ["churn"]
    denied(vera, lifecycle.move, vera, "churn", "build", match="viewers read only")
    denied(vera, lifecycle.add_model, vera, "x", owner="vera", match="viewers read only")
    assert queries.model(crew, "churn").stage == Stage.PLAN


def test_members_move_build_and_test_any_model(crew: Context) -> None:
    lifecycle.add_model(crew, "churn", owner="mia")
    bob = as_(crew, "bob")
    lifecycle.move(bob, "churn", "build")
    builds.record(bob, "churn", commit="a" * 40, image="r/churn:1")
    assert lifecycle.move(bob, "churn", "test").model.stage == Stage.TEST
    assert gate.why_not(bob, "test", queries.model(crew, "churn")) is None


def test_forcing_a_move_needs_the_owner_backup_or_a_maintainer(crew: Context) -> None:
    lifecycle.add_model(crew, "churn", owner="mia")
    lifecycle.add_model(crew, "mine", owner="bob")
    bob = as_(crew, "bob")
    denied(
        bob,
        lifecycle.move,
        bob,
        "churn",
        "deploy",
        force=True,
        note="hotfix",
        match="owner or backup, or a maintainer",
    )
    assert lifecycle.move(bob, "mine", "deploy", force=True, note="hotfix").event.data["forced"]
    lifecycle.set_role(crew, "churn", "bob", role="backup")
    assert lifecycle.move(bob, "churn", "deploy", force=True, note="hotfix").model.stage == "deploy"
    mia = as_(crew, "mia")
    assert lifecycle.move(mia, "mine", "plan", note="back").model.stage == "plan"


def test_deploy_and_rollback_need_someone_responsible(crew: Context) -> None:
    lifecycle.add_model(crew, "churn", owner="mia")
    bob = as_(crew, "bob")
    model = queries.model(crew, "churn")
    denied(bob, deploys.deploy, bob, "churn", match="owner or backup")
    denied(bob, deploys.rollback, bob, "churn", match="owner or backup")
    for action in ("deploy", "rollback"):
        assert gate.why_not(as_(crew, "mia"), action, model) is None  # the owner
        assert gate.why_not(crew, action, model) is None  # an admin
    lifecycle.set_role(crew, "churn", "bob", role="backup")
    assert gate.why_not(bob, "deploy", queries.model(crew, "churn")) is None


def test_who_is_responsible_for_a_model_is_changed_only_by_those_responsible(
    crew: Context,
) -> None:
    """In any stage: a member who could make themselves owner of a model in Plan would be
    its owner, and so allowed to deploy it, by the time it reached Deploy."""
    lifecycle.add_model(crew, "early", owner="mia")
    lifecycle.add_model(crew, "live", owner="mia")
    lifecycle.move(crew, "live", "deploy", force=True, note="seed")
    bob = as_(crew, "bob")
    denied(bob, lifecycle.set_role, bob, "early", "bob", match="owner or backup")
    denied(bob, lifecycle.set_role, bob, "live", "bob", match="owner or backup")
    denied(bob, lifecycle.set_role, bob, "live", "carol", role="oncall", match="owner or backup")
    assert lifecycle.set_role(as_(crew, "mia"), "live", "carol", role="oncall").model.oncall
    assert lifecycle.set_role(as_(crew, "mia"), "live", "bob").model.owner == "bob"
    assert lifecycle.set_role(bob, "live", "eve", role="backup").model.backup == "eve"


def test_deactivated_people_cannot_act_and_cannot_be_given_models(crew: Context) -> None:
    lifecycle.add_model(crew, "churn", owner="bob")
    team.deactivate(crew, "bob")
    bob = as_(crew, "bob")
    denied(bob, lifecycle.move, bob, "churn", "build", match="bob was deactivated")
    with pytest.raises(InvalidInput, match="deactivated"):
        lifecycle.set_role(crew, "churn", "bob", role="oncall")
    assert team.orphaned(crew) == {"bob"}
    team.reactivate(crew, "bob")
    lifecycle.move(bob, "churn", "build")


def test_people_and_settings_are_managed_by_admins(ctx: Context) -> None:
    # A new team: a maintainer (alice joined) names the first admin.
    team.add_user(ctx, "boss", role="admin")
    denied(ctx, team.add_user, ctx, "eve", match="it needs an admin")
    denied(ctx, team.set_setting, ctx, "open_join", "false", match="it needs an admin")
    boss = as_(ctx, "boss")
    team.set_role(boss, "alice", "member")
    assert team.user(ctx, "alice").role == UserRole.MEMBER
    with pytest.raises(InvalidInput, match="last admin"):
        team.deactivate(boss, "boss")
    with pytest.raises(InvalidInput, match="unknown role"):
        team.add_user(boss, "eve", role="god")
    with pytest.raises(InvalidInput, match="unknown setting"):
        team.set_setting(boss, "colour", "red")
    kinds = [e.kind for e in queries.history(ctx, limit=3)]
    assert kinds[0] == "user.changed"


def test_identity_database_takes_the_connection_role(ctx: Context) -> None:
    if ctx.store.backend != "postgresql":
        with pytest.raises(InvalidInput, match="needs PostgreSQL"):
            team.set_setting(ctx, "identity", "database")
        assert resolve_actor(ctx.store, "alice") == "alice"
        return
    team.set_setting(ctx, "identity", "database")
    role = ctx.store.database_user()
    assert resolve_actor(ctx.store, "someone-else") == role
    spoofed = Context(ctx.store, resolve_actor(ctx.store, "ceo"))
    known(spoofed, "bob")
    lifecycle.add_model(spoofed, "churn", owner="bob")
    assert queries.history(ctx, limit=1)[0].actor == role


def test_changes_since_the_owner_last_looked(ctx: Context) -> None:
    known(ctx, "bob")
    lifecycle.add_model(ctx, "churn", owner="bob")
    lifecycle.move(ctx, "churn", "build")
    model, seen, events = team.changes_since_owner_looked(ctx, "churn")
    assert seen is None and len(events) == 2  # bob never looked: everything is new to him
    team.looked(ctx, model)  # alice looking does not count
    assert team.changes_since_owner_looked(ctx, "churn")[1] is None
    team.looked(as_(ctx, "bob"), model)
    lifecycle.move(ctx, "churn", "plan", note="wrong data")
    known(ctx, "carol")
    lifecycle.set_role(ctx, "churn", "carol", role="backup")
    _, seen, events = team.changes_since_owner_looked(ctx, "churn")
    assert seen is not None
    assert [e.kind for e in events] == ["owner.set", "stage.moved"]


def test_nobody_is_made_responsible_without_existing(crew: Context) -> None:
    lifecycle.add_model(crew, "churn", owner="bob")
    before = len(queries.history(crew, limit=0))
    with pytest.raises(NotFound, match="bobb is not on the team, so cannot be the owner: did you"):
        lifecycle.add_model(crew, "fraud", owner="bobb")
    with pytest.raises(NotFound, match="did you mean 'carol'") as typo:
        lifecycle.set_role(crew, "churn", "caroll", role="backup")
    assert typo.value.cli_hint == "add them with `mlops user add caroll`"
    assert "mlops" not in typo.value.message  # the TUI's words: no command in them
    with pytest.raises(InvalidInput, match="vera is a viewer and cannot be the person on call"):
        lifecycle.set_role(crew, "churn", "vera", role="oncall")
    assert len(queries.history(crew, limit=0)) == before  # nothing written
    # Where open_join lets a stranger act, they may still name themselves, and only them.
    zed = as_(crew, "zed")
    assert lifecycle.add_model(zed, "zeds", owner="zed").model.owner == "zed"
    assert team.user(crew, "zed").role == UserRole.MAINTAINER


def test_service_accounts_act_but_hold_nothing(crew: Context) -> None:
    added = team.add_user(crew, "monitor", role="admin", bot=True)
    assert added.bot and team.user(crew, "monitor").bot
    assert queries.history(crew, limit=1)[0].kind == "user.added"
    assert "added monitor as admin (bot)" in queries.describe(queries.history(crew, limit=1)[0])
    lifecycle.add_model(crew, "churn", owner="bob")
    for role in ("owner", "backup", "oncall"):
        with pytest.raises(InvalidInput, match="monitor is a service account"):
            lifecycle.set_role(crew, "churn", "monitor", role=role)
    with pytest.raises(InvalidInput, match="monitor is a service account"):
        lifecycle.add_model(crew, "fraud", owner="monitor")
    with pytest.raises(InvalidInput, match="monitor is a service account"):
        handoffs.request(crew, "churn", to="monitor")
    # It still acts, under its own name and its role's rights.
    assert lifecycle.move(as_(crew, "monitor"), "churn", "build").event.actor == "monitor"
    assert "monitor" not in {u.name for u in team.people(crew)}
    assert {u.name for u in team.receivers(crew)} == {"alice", "bob", "carol", "eve", "mia"}
    # A bot admin is not one of the team's admins: the last person who is stays.
    with pytest.raises(InvalidInput, match="alice is the last admin"):
        team.set_role(crew, "alice", "member")
