"""Users: add, change, sign in (with lockout), grants to camera groups, and the demo admin."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from vms.auth.passwords import WeakPassword, burn_time, check_strength, hash_password, verify_password
from vms.auth.roles import GRANTABLE, Access, Role, build_access, parse_capabilities
from vms.config.security import SecurityConfig
from vms.db import Database
from vms.db.auth import AddressThrottle, GrantRow, UserRow
from vms.db.types import utcnow

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class UserExists(ValueError):
    pass


class UserNotFound(LookupError):
    pass


class LoginFailed(Exception):
    """Sign-in refused. ``reason`` is for the audit log only; people see one generic message."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after  # seconds, when locked

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
    """``username`` if it is 2-64 of ``a-z0-9._-``; raises ``ValueError`` with the rule otherwise."""
    if not USERNAME_PATTERN.match(username or ""):
        raise ValueError("username must be 2-64 characters: lowercase letters, digits, '.', '_' or '-'")
    return username


class Users:
    def __init__(self, db: Database, config: SecurityConfig | None = None) -> None:
        self.db = db
        self.config = config or SecurityConfig()

    # --- accounts -------------------------------------------------------------------------

    def check_password(self, password: str, username: str = "") -> None:
        check_strength(password, username, self.config.password_min_length)

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

    # --- signing in -----------------------------------------------------------------------

    def authenticate(self, username: str, password: str, address: str = "") -> User:
        """The user, or LoginFailed. Locks the username and the client address after repeated failures."""
        now = utcnow()
        with self.db.session() as session:
            throttle = session.get(AddressThrottle, address) if address else None
            if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
                raise LoginFailed("address locked", (throttle.locked_until - now).total_seconds())
            row = session.scalar(select(UserRow).where(UserRow.username == username[:64]))
            if row is not None and row.locked_until is not None and row.locked_until > now:
                raise LoginFailed("user locked", (row.locked_until - now).total_seconds())
            # Unknown usernames are counted and locked the same way, so a lock reveals nothing.
            ghost = session.get(AddressThrottle, _ghost_key(username)) if row is None else None
            if ghost is not None and ghost.locked_until is not None and ghost.locked_until > now:
                raise LoginFailed("user locked", (ghost.locked_until - now).total_seconds())
        if row is None:
            burn_time(password)
            self._failed(None, address, now, ghost=_ghost_key(username))
            raise LoginFailed("unknown user")
        ok, rehashed = verify_password(row.password_hash, password)
        if not ok:
            locked = self._failed(row.id, address, now)
            raise LoginFailed("wrong password" + (", user now locked" if locked else ""))
        if row.disabled:
            raise LoginFailed("user disabled")
        with self.db.session() as session:
            values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
            if rehashed:
                values["password_hash"] = rehashed
            session.execute(update(UserRow).where(UserRow.id == row.id).values(**values))
        return self.get_by_id(row.id)

    def _failed(self, user_id: int | None, address: str, now: datetime, ghost: str | None = None) -> bool:
        lockout = self.config.lockout
        locked = False
        with self.db.session() as session:
            # Forget windows long over, so guessed usernames do not pile up.
            session.execute(
                delete(AddressThrottle).where(
                    AddressThrottle.window_start < now - timedelta(minutes=lockout.ip_window_minutes + lockout.lock_minutes),
                    or_(AddressThrottle.locked_until.is_(None), AddressThrottle.locked_until < now),
                )
            )
            if ghost is not None:
                locked = _count(session, ghost, now, lockout.max_failures, lockout.ip_window_minutes, lockout.lock_minutes)
            if user_id is not None:
                session.execute(update(UserRow).where(UserRow.id == user_id).values(failed_logins=UserRow.failed_logins + 1))
                failures = session.scalar(select(UserRow.failed_logins).where(UserRow.id == user_id)) or 0
                if failures >= lockout.max_failures:
                    locked = True
                    session.execute(
                        update(UserRow).where(UserRow.id == user_id).values(
                            failed_logins=0, locked_until=now + timedelta(minutes=lockout.lock_minutes)
                        )
                    )
            if address:
                _count(session, address, now, lockout.ip_max_failures, lockout.ip_window_minutes, lockout.lock_minutes)
        return locked

    # --- grants ---------------------------------------------------------------------------

    def add_grant(self, group_id: str, capabilities: list[str], username: str | None = None,
                  role: Role | str | None = None, by: str = "system") -> dict[str, Any]:
        if (username is None) == (role is None):
            raise ValueError("a grant is for either a user or a role")
        caps = parse_capabilities(capabilities, GRANTABLE)
        if not caps:
            raise ValueError(f"a grant needs at least one capability ({', '.join(sorted(c.value for c in GRANTABLE))})")
        with self.db.session() as session:
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


def _ghost_key(username: str) -> str:
    return "user:" + username[:59]


def _count(session: Session, key: str, now: datetime, limit: int, window_minutes: float, lock_minutes: float) -> bool:
    """Count one failure against ``key``; lock it when ``limit`` is reached. Returns True when locked."""
    throttle = session.get(AddressThrottle, key)
    if throttle is None:
        throttle = AddressThrottle(address=key, failures=0, window_start=now)
        session.add(throttle)
    if now - throttle.window_start > timedelta(minutes=window_minutes):
        throttle.failures, throttle.window_start = 0, now
    throttle.failures += 1
    if throttle.failures >= limit:
        throttle.failures, throttle.window_start = 0, now
        throttle.locked_until = now + timedelta(minutes=lock_minutes)
        return True
    return False


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
