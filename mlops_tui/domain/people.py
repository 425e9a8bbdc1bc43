"""People: who is responsible for a model (owner, backup, on-call), the team's members and
their roles, and handoffs of a model from one person to another with a checklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mlops_tui.domain.validation import clean_text
from mlops_tui.errors import InvalidInput, unknown_choice


class Role(StrEnum):
    OWNER = "owner"
    BACKUP = "backup"
    ONCALL = "oncall"


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except (ValueError, AttributeError):
        raise InvalidInput(f"unknown role {value!r}: choose one of {', '.join(Role)}") from None


class UserRole(StrEnum):
    VIEWER = "viewer"  # reads only
    MEMBER = "member"  # moves, builds, tests; deploys only the models they own or back up
    MAINTAINER = "maintainer"  # everything on every model
    ADMIN = "admin"  # and people and shared settings


class HandoffStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: UserRole
    active: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    email: str | None = None
    #: a service account (the monitor, CI, a server): it acts, but holds no model and is
    #: never counted among the people
    bot: bool = False


@dataclass(frozen=True, slots=True)
class Token:
    """An API token: what `mlops serve` admits a request as. Only the secret's hash is kept,
    so neither the database nor an export can give a secret back."""

    name: str
    user: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    item: str
    done: bool = False


@dataclass(frozen=True, slots=True)
class Handoff:
    id: int
    model: str
    from_user: str
    to_user: str
    status: HandoffStatus
    checklist: tuple[ChecklistItem, ...]
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    note: str | None = None
    reply: str | None = None

    @property
    def unticked(self) -> list[str]:
        return [c.item for c in self.checklist if not c.done]


USER_ADDED = "user.added"
USER_CHANGED = "user.changed"  # role, email, deactivated or reactivated
SETTING_SET = "settings.set"
PERMISSION_DENIED = "permission.denied"
HANDOFF_REQUESTED = "handoff.requested"
HANDOFF_TICKED = "handoff.ticked"
HANDOFF_DECLINED = "handoff.declined"
HANDOFF_CANCELLED = "handoff.cancelled"
# An accepted handoff is recorded as owner.set (ROLE_SET) with `handoff: ID`, so everything
# that replays ownership from the history sees it without knowing about handoffs.
MODEL_LINKED = "model.linked"
TOKEN_CREATED = "token.created"
TOKEN_REVOKED = "token.revoked"

DEFAULT_CHECKLIST = (
    "runbook",
    "data sources",
    "credentials rotated",
    "dashboards",
    "open incidents",
)
MAX_CHECKLIST_ITEM = 80


def parse_user_role(value: str) -> UserRole:
    try:
        return UserRole(value.strip().lower())
    except (ValueError, AttributeError):
        raise unknown_choice("role", value, list(UserRole)) from None


def validate_checklist(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        item = clean_text(item, "checklist item", MAX_CHECKLIST_ITEM) or ""
        if item and item not in out:
            out.append(item)
    if not out:
        raise InvalidInput("a handoff checklist needs at least one item")
    if len(out) > 20:
        raise InvalidInput(f"too many checklist items ({len(out)}; at most 20)")
    return out
