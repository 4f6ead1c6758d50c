"""Users: add, change, grants to camera groups, and the demo admin (signing in: ``vms.auth.signin``)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from vms.auth.passwords import WeakPassword, check_strength, hash_password, verify_password
from vms.auth.roles import GRANTABLE, Access, Role, build_access, parse_capabilities
from vms.config.security import SecurityConfig
from vms.db import Database, GroupRow
from vms.db.auth import AddressThrottle, GrantRow, UserRow
from vms.db.types import utcnow
from vms.errors import CodedError

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class UserExists(ValueError):
    pass


class UserNotFound(LookupError):
    pass


class LoginFailed(Exception):
    """Sign-in refused. ``reason`` is for the audit log only; people see one generic message."""

    def __init__(self, reason: str, retry_after: float | None = None, lockouts: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after  # seconds, when locked
        self.lockouts = lockouts or []  # locks this failure started: {"scope", "minutes", "address"}

    @property
    def locked(self) -> bool:
        return self.retry_after is not None


@dataclass(frozen=True)
class User:
    """A user as the rest of vms sees it (no password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: UserRow) -> "User":
        return cls(row.id, row.username, row.display_name, Role(row.role), row.disabled, row.locked_until,
                   row.last_login_at, row.created_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "disabled": self.disabled,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "created_at": self.created_at.isoformat(),
        }


def check_username(username: str) -> str:
    """``username`` if it is 2-64 of ``a-z0-9._-``; raises ``CodedError`` (a ValueError, code
    ``bad-username``) with the rule otherwise."""
    if not USERNAME_PATTERN.match(username or ""):
        raise CodedError("username must be 2-64 characters: lowercase letters, digits, '.', '_' or '-'",
                         "bad-username", min=2, max=64)
    return username


class Users:
    def __init__(self, db: Database, config: SecurityConfig | None = None) -> None:
        self.db = db
        self.config = config or SecurityConfig()

    # --- accounts -------------------------------------------------------------------------

    def check_password(self, password: str, username: str = "") -> None:
        check_strength(password, username, self.config.password_min_length, self.config.password_min_score)

    def add(self, username: str, password: str, role: Role | str, display_name: str = "") -> User:
        check_username(username)
        role = Role(role)
        self.check_password(password, username)
        with self.db.session() as session:
            if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                raise UserExists(f"user '{username}' already exists")
            row = UserRow(username=username, display_name=display_name[:200], role=role.value,
                          password_hash=hash_password(password))
            session.add(row)
            session.flush()
            return User.from_row(row)

    def _row(self, session: Session, username: str) -> UserRow:
        row = session.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise UserNotFound(f"user '{username}' does not exist")
        return row

    def get(self, username: str) -> User:
        with self.db.session() as session:
            return User.from_row(self._row(session, username))

    def get_by_id(self, user_id: int) -> User:
        with self.db.session() as session:
            row = session.get(UserRow, user_id)
            if row is None:
                raise UserNotFound(f"user {user_id} does not exist")
            return User.from_row(row)

    def all(self) -> list[User]:
        with self.db.session() as session:
            return [User.from_row(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]

    def count(self) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count(UserRow.id))) or 0

    def update(
        self, username: str, display_name: str | None = None, role: Role | str | None = None,
        disabled: bool | None = None, unlock: bool = False,
    ) -> User:
        with self.db.session() as session:
            row = self._row(session, username)
            if display_name is not None:
                row.display_name = display_name[:200]
            if role is not None:
                row.role = Role(role).value
            if disabled is not None:
                row.disabled = disabled
            if unlock:
                row.failed_logins, row.locked_until = 0, None
                session.execute(delete(AddressThrottle).where(AddressThrottle.address.startswith(AddressThrottle.pair_prefix(row.id))))
            session.flush()
            return User.from_row(row)

    def active_admins(self) -> int:
        with self.db.session() as session:
            return session.scalar(
                select(func.count(UserRow.id)).where(UserRow.role == Role.ADMIN.value, UserRow.disabled.is_(False))
            ) or 0

    def set_password(self, username: str, password: str) -> User:
        """Replace the password (rules checked); the caller ends the user's other sessions."""
        self.check_password(password, username)
        with self.db.session() as session:
            row = self._row(session, username)
            row.password_hash = hash_password(password)
            row.password_changed_at = utcnow()
            row.failed_logins, row.locked_until = 0, None
            return User.from_row(row)

    def change_password(self, username: str, old_password: str, new_password: str) -> User:
        with self.db.session() as session:
            stored = self._row(session, username).password_hash
        if not verify_password(stored, old_password)[0]:
            raise LoginFailed("wrong current password")
        if old_password == new_password:
            raise WeakPassword("the new password must differ from the current one", "unchanged")
        return self.set_password(username, new_password)

    # --- grants ---------------------------------------------------------------------------

    def add_grant(self, group_id: str, capabilities: list[str], username: str | None = None,
                  role: Role | str | None = None, by: str = "system") -> dict[str, Any]:
        if (username is None) == (role is None):
            raise CodedError("a grant is for either a user or a role", "user-or-role")
        caps = parse_capabilities(capabilities, GRANTABLE)
        if not caps:
            allowed = ", ".join(sorted(c.value for c in GRANTABLE))
            raise CodedError(f"a grant needs at least one capability ({allowed})", "no-capability", allowed=allowed)
        with self.db.session() as session:
            if session.get(GroupRow, group_id) is None:  # a grant to a typo would silently grant nothing
                known = ", ".join(session.scalars(select(GroupRow.id).order_by(GroupRow.id)))
                raise CodedError(f"group '{group_id}' does not exist (groups: {known})", "unknown-group",
                                 group=group_id, known=known)
            user_id = self._row(session, username).id if username is not None else None
            row = GrantRow(user_id=user_id, role=Role(role).value if role is not None else None, group_id=group_id,
                           capabilities=sorted(c.value for c in caps), created_by=by)
            session.add(row)
            session.flush()
            return self._grant_dict(row, username)

    def remove_grant(self, grant_id: int) -> dict[str, Any]:
        with self.db.session() as session:
            row = session.get(GrantRow, grant_id)
            if row is None:
                raise LookupError(f"grant {grant_id} does not exist")
            holder = session.get(UserRow, row.user_id) if row.user_id is not None else None
            username = holder.username if holder is not None else None
            described = self._grant_dict(row, username)
            session.execute(delete(GrantRow).where(GrantRow.id == grant_id))
            return described

    def grants(self) -> list[dict[str, Any]]:
        with self.db.session() as session:
            rows = session.execute(
                select(GrantRow, UserRow.username).outerjoin(UserRow, UserRow.id == GrantRow.user_id).order_by(GrantRow.id)
            ).all()
            return [self._grant_dict(row, username) for row, username in rows]

    @staticmethod
    def _grant_dict(row: GrantRow, username: str | None) -> dict[str, Any]:
        return {"id": row.id, "user": username, "role": row.role, "group": row.group_id,
                "capabilities": list(row.capabilities), "created_by": row.created_by}

    def access(self, user: User, scopes: list[str] | None = None) -> Access:
        with self.db.session() as session:
            rows = session.execute(
                select(GrantRow.group_id, GrantRow.capabilities).where(
                    or_(GrantRow.user_id == user.id, GrantRow.role == user.role.value)
                )
            ).all()
        return build_access(user.role, self.config, [(g, caps) for g, caps in rows], scopes)


def random_password() -> str:
    """A password that passes the rules: 20 random URL-safe characters plus fixed variety."""
    return secrets.token_urlsafe(15) + "-Aa1"


def ensure_demo_admin(db: Database, config: SecurityConfig | None = None) -> tuple[str, str] | None:
    """For the demo only: when no user exists, create ``admin`` with a random password.

    Returns (username, password) to print once, or None when users already exist. There is
    never a default password: the password exists only in this return value.
    """
    users = Users(db, config)
    if users.count() > 0:
        return None
    password = random_password()
    users.add("admin", password, Role.ADMIN, display_name="Administrator")
    return "admin", password
