"""Roles, capabilities and what a signed-in user may do on which camera group.

A role gives the most a user may ever do; group grants (per user or per role, plus the
role's default groups from the configuration) say on which cameras. Admins and technicians
reach every group. An API token may be narrowed further to a few capabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Iterable, Mapping

from vms.config.security import SecurityConfig
from vms.errors import CodedError


class Role(str, Enum):
    ADMIN = "admin"
    TECHNICIAN = "technician"
    OPERATOR = "operator"
    INVESTIGATOR = "investigator"


class Capability(str, Enum):
    CAMERA_VIEW = "camera.view"  # see the camera, its health and its events list
    LIVE = "live"
    PLAYBACK = "playback"
    EXPORT = "export"
    EVENT_VIEW = "event.view"
    EVENT_ACK = "event.ack"
    CAMERA_MANAGE = "camera.manage"  # register, probe, edit, disable, remove
    USER_MANAGE = "user.manage"  # users, roles, grants
    AUDIT_READ = "audit.read"
    METRICS_READ = "metrics.read"
    ALARM_RULES = "alarm.rules"  # write the alarm rules (priority, SOP, escalation, wall action)
    # Release an evidence lock (someone else's, or one an export made): admins only, since it
    # lets retention delete what may be evidence.
    EVIDENCE_RELEASE = "evidence.release"
    # Your own account: password, API tokens, two-factor, saved layouts. Every role has it; a
    # token narrowed to other scopes has not, so a leaked viewing token cannot take the account.
    ACCOUNT = "account"


C = Capability
# Capabilities checked against the camera's group (the rest are global).
CAMERA_SCOPED = frozenset({C.CAMERA_VIEW, C.LIVE, C.PLAYBACK, C.EXPORT, C.EVENT_VIEW, C.EVENT_ACK})
# What a group grant may list; seeing the cameras and their events comes with any grant.
GRANTABLE = frozenset({C.LIVE, C.PLAYBACK, C.EXPORT, C.EVENT_ACK})
_IMPLIED_BY_GRANT = frozenset({C.CAMERA_VIEW, C.EVENT_VIEW})

ROLE_CAPABILITIES: Mapping[Role, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.TECHNICIAN: frozenset({C.CAMERA_VIEW, C.LIVE, C.EVENT_VIEW, C.CAMERA_MANAGE, C.METRICS_READ, C.ACCOUNT}),
    Role.OPERATOR: frozenset({C.CAMERA_VIEW, C.LIVE, C.PLAYBACK, C.EVENT_VIEW, C.EVENT_ACK, C.ACCOUNT}),
    Role.INVESTIGATOR: frozenset({C.CAMERA_VIEW, C.LIVE, C.PLAYBACK, C.EXPORT, C.EVENT_VIEW, C.ACCOUNT}),
}
ALL_GROUP_ROLES = frozenset({Role.ADMIN, Role.TECHNICIAN})
# Roles whose playback reaches only security.operator_lookback_minutes into the past.
LOOKBACK_LIMITED_ROLES = frozenset({Role.OPERATOR})


def parse_capabilities(names: Iterable[str], allowed: frozenset[Capability] = frozenset(Capability)) -> frozenset[Capability]:
    """Capabilities from their names, or CodedError (a ValueError: ``unknown-capability``,
    ``capability-not-allowed``) naming the unknown or not allowed ones."""
    result = set()
    for name in names:
        try:
            capability = Capability(name)
        except ValueError:
            known = ", ".join(c.value for c in Capability)
            raise CodedError(f"unknown capability '{name}' (known: {known})", "unknown-capability",
                             capability=str(name), known=known) from None
        if capability not in allowed:
            names = ", ".join(sorted(c.value for c in allowed))
            raise CodedError(f"capability '{name}' cannot be given here (allowed: {names})", "capability-not-allowed",
                             capability=str(name), allowed=names)
        result.add(capability)
    return frozenset(result)


@dataclass(frozen=True)
class Access:
    """Everything needed to decide one user's requests, computed once per request."""

    role: Role
    all_groups: bool
    groups: Mapping[str, frozenset[Capability]] = field(default_factory=dict)
    scopes: frozenset[Capability] | None = None  # an API token's narrowing, None = none

    def has(self, capability: Capability) -> bool:
        """The capability anywhere (global capabilities, or camera ones on at least the role)."""
        return capability in ROLE_CAPABILITIES[self.role] and (self.scopes is None or capability in self.scopes)

    def on_group(self, group_id: str, capability: Capability) -> bool:
        if not self.has(capability):
            return False
        if capability not in CAMERA_SCOPED or self.all_groups:
            return True
        return capability in self.groups.get(group_id, frozenset())

    def sees(self, group_id: str) -> bool:
        return self.on_group(group_id, C.CAMERA_VIEW)

    def visible_groups(self) -> set[str] | None:
        """Groups whose cameras this user sees; None means all of them."""
        if not self.has(C.CAMERA_VIEW):
            return set()
        if self.all_groups:
            return None
        return {group for group in self.groups if self.sees(group)}


def build_access(
    role: Role,
    config: SecurityConfig,
    grants: Iterable[tuple[str, Iterable[str]]] = (),
    scopes: Iterable[str] | None = None,
) -> Access:
    """Combine the role, its default groups and the grants (group id, capability names)."""
    role_caps = ROLE_CAPABILITIES[role]
    groups: dict[str, set[Capability]] = {}
    for group_id in config.role_groups.get(role.value, []):
        groups.setdefault(group_id, set()).update(role_caps & CAMERA_SCOPED)
    for group_id, names in grants:
        granted = {Capability(n) for n in names if n in Capability._value2member_map_} & GRANTABLE
        groups.setdefault(group_id, set()).update(role_caps & (granted | _IMPLIED_BY_GRANT))
    narrowed = None
    if scopes is not None:
        narrowed = frozenset(Capability(s) for s in scopes if s in Capability._value2member_map_)
        if narrowed & CAMERA_SCOPED:  # a token for live or playback must also see its cameras
            narrowed |= _IMPLIED_BY_GRANT
    return Access(
        role=role,
        all_groups=role in ALL_GROUP_ROLES,
        groups={g: frozenset(c) for g, c in groups.items()},
        scopes=narrowed,
    )


def playback_earliest(role: Role, config: SecurityConfig, now: datetime) -> datetime | None:
    """The earliest moment this role may play back, or None when there is no limit."""
    if role in LOOKBACK_LIMITED_ROLES:
        return now - timedelta(minutes=config.operator_lookback_minutes)
    return None
