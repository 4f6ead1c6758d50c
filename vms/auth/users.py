"""Users: add, change, sign in (with lockout), grants to camera groups, and the demo admin."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update

from vms.auth.passwords import WeakPassword, burn_time, check_strength, hash_password, verify_password
from vms.auth.roles import GRANTABLE, Access, Role, build_access, parse_capabilities
from vms.config.security import SecurityConfig
from vms.db import Database, GroupRow
from vms.auth.two_factor import TwoFactor
from vms.db.auth import AddressThrottle, GrantRow, KnownAddress, UserRow
from vms.db.types import utcnow

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class UserExists(ValueError):
    pass


class UserNotFound(LookupError):
    pass


class LoginFailed(Exception):
    """Sign-in refused. ``reason`` is for the audit log only; people see one generic message."""

    def __init__(self, reason: str, retry_after: float | None = None, lockouts: list[dict] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after  # seconds, when locked
        self.lockouts = lockouts or []  # locks this failure started: {"scope", "minutes", "address"}

    @property
    def locked(self) -> bool:
        return self.retry_after is not None


class SecondFactorRequired(Exception):
    """The password is right and the user has two-factor sign-in on: send the code too."""


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

    def to_dict(self) -> dict:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "disabled": self.disabled,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: who, with which second factor, and whether they must enrol first."""

    user: User
    second_factor: str | None  # "totp", "recovery" or None
    enrol: bool  # the role needs two-factor sign-in and the user has not set it up


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.match(username or ""):
        raise ValueError("username must be 2-64 characters: lowercase letters, digits, '.', '_' or '-'")
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

    def _row(self, session, username: str) -> UserRow:
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
                session.execute(delete(AddressThrottle).where(AddressThrottle.address.startswith(f"pair:{row.id}|")))
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
            raise WeakPassword("the new password must differ from the current one")
        return self.set_password(username, new_password)

    # --- signing in -----------------------------------------------------------------------

    def authenticate(self, username: str, password: str, address: str = "", code: str | None = None) -> SignIn:
        """Check password (and second factor); SignIn, or LoginFailed / SecondFactorRequired.

        Failures are counted per (user, address), per address and per user (see LockoutConfig).
        A lock is no obstacle to the right second factor; a user-wide lock none from an address
        the user signed in from before. The lockouts a failure starts travel in LoginFailed.
        """
        now = utcnow()
        two_factor = TwoFactor(self.db, self.config.two_factor)
        with self.db.session() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username[:64]))
            locks = _active_locks(session, row, username, address, now)
            stored = row.password_hash if row is not None else None
        has_second_factor = row is not None and two_factor.enabled(row.id)
        factor = None
        if locks:
            scope, retry = max(locks, key=lambda lock: lock[1])
            if not (has_second_factor and code):
                raise LoginFailed(f"{scope} locked", retry)
            # The way back in for a locked-out user: the second factor first, then the password.
            factor = two_factor.verify(row.id, code)
            if factor is None:
                burn_time(password)
                raise LoginFailed(f"{scope} locked, wrong second factor", retry)
        if stored is None:
            burn_time(password)
            raise LoginFailed("unknown user", lockouts=self._failed(None, address, now, ghost=_ghost_key(username)))
        ok, rehashed = verify_password(stored, password)
        if not ok:
            raise LoginFailed("wrong password", lockouts=self._failed(row.id, address, now))
        if row.disabled:
            raise LoginFailed("user disabled")
        if has_second_factor and factor is None:
            if not code:
                raise SecondFactorRequired()
            factor = two_factor.verify(row.id, code)
            if factor is None:
                raise LoginFailed("wrong second factor", lockouts=self._failed(row.id, address, now))
        self._succeeded(row.id, address, now, rehashed)
        user = self.get_by_id(row.id)
        return SignIn(user, factor, enrol=two_factor.required_for(user.role) and not has_second_factor)

    def _succeeded(self, user_id: int, address: str, now: datetime, rehashed: str | None) -> None:
        with self.db.session() as session:
            # A user-wide lock runs its course: the attack it answers may still be going on.
            values = {"failed_logins": 0, "last_login_at": now}
            if rehashed:
                values["password_hash"] = rehashed
            session.execute(update(UserRow).where(UserRow.id == user_id).values(**values))
            session.execute(delete(AddressThrottle).where(AddressThrottle.address == _pair_key(user_id, address)))
            if address:
                known = session.get(KnownAddress, (user_id, address[:64]))
                if known is None:
                    session.add(KnownAddress(user_id=user_id, address=address[:64], last_ok_at=now))
                else:
                    known.last_ok_at = now

    def _failed(self, user_id: int | None, address: str, now: datetime, ghost: str | None = None) -> list[dict]:
        """Count one failure everywhere it counts; returns the lockouts it started (for the audit log)."""
        lockout = self.config.lockout
        started: list[dict] = []

        def count(key: str, limit: int, scope: str) -> None:
            minutes = _count(session, key, now, limit, lockout)
            if minutes is not None:
                started.append({"scope": scope, "minutes": minutes, "address": address})

        with self.db.session() as session:
            # Forget windows long over (a day after their last lock), so guessed names do not pile up.
            session.execute(
                delete(AddressThrottle).where(
                    AddressThrottle.window_start < now - timedelta(minutes=lockout.ip_window_minutes + lockout.lock_minutes),
                    or_(AddressThrottle.locked_until.is_(None), AddressThrottle.locked_until < now - timedelta(days=1)),
                )
            )
            if ghost is not None:
                count(ghost, lockout.max_failures, "user")
            if user_id is not None:
                count(_pair_key(user_id, address), lockout.max_failures, "user-address")
                session.execute(update(UserRow).where(UserRow.id == user_id).values(failed_logins=UserRow.failed_logins + 1))
                failures = session.scalar(select(UserRow.failed_logins).where(UserRow.id == user_id)) or 0
                if failures >= lockout.user_max_failures:
                    session.execute(
                        update(UserRow).where(UserRow.id == user_id).values(
                            failed_logins=0, locked_until=now + timedelta(minutes=lockout.lock_minutes)
                        )
                    )
                    started.append({"scope": "user", "minutes": lockout.lock_minutes, "address": address})
            if address:
                count(address, lockout.ip_max_failures, "address")
        return started

    # --- grants ---------------------------------------------------------------------------

    def add_grant(self, group_id: str, capabilities: list[str], username: str | None = None,
                  role: Role | str | None = None, by: str = "system") -> dict:
        if (username is None) == (role is None):
            raise ValueError("a grant is for either a user or a role")
        caps = parse_capabilities(capabilities, GRANTABLE)
        if not caps:
            raise ValueError(f"a grant needs at least one capability ({', '.join(sorted(c.value for c in GRANTABLE))})")
        with self.db.session() as session:
            if session.get(GroupRow, group_id) is None:  # a grant to a typo would silently grant nothing
                known = ", ".join(session.scalars(select(GroupRow.id).order_by(GroupRow.id)))
                raise ValueError(f"group '{group_id}' does not exist (groups: {known})")
            user_id = self._row(session, username).id if username is not None else None
            row = GrantRow(user_id=user_id, role=Role(role).value if role is not None else None, group_id=group_id,
                           capabilities=sorted(c.value for c in caps), created_by=by)
            session.add(row)
            session.flush()
            return self._grant_dict(row, username)

    def remove_grant(self, grant_id: int) -> dict:
        with self.db.session() as session:
            row = session.get(GrantRow, grant_id)
            if row is None:
                raise LookupError(f"grant {grant_id} does not exist")
            username = session.get(UserRow, row.user_id).username if row.user_id is not None else None
            described = self._grant_dict(row, username)
            session.execute(delete(GrantRow).where(GrantRow.id == grant_id))
            return described

    def grants(self) -> list[dict]:
        with self.db.session() as session:
            rows = session.execute(
                select(GrantRow, UserRow.username).outerjoin(UserRow, UserRow.id == GrantRow.user_id).order_by(GrantRow.id)
            ).all()
            return [self._grant_dict(row, username) for row, username in rows]

    @staticmethod
    def _grant_dict(row: GrantRow, username: str | None) -> dict:
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


def _pair_key(user_id: int, address: str) -> str:
    return f"pair:{user_id}|{address}"[:64]


def _remaining(locked_until: datetime | None, now: datetime) -> float | None:
    return (locked_until - now).total_seconds() if locked_until is not None and locked_until > now else None


def _active_locks(session, row: UserRow | None, username: str, address: str, now: datetime) -> list[tuple[str, float]]:
    """(scope, seconds left) of each lock standing between this attempt and a password check."""
    locks: list[tuple[str, float]] = []

    def throttle(key: str, scope: str) -> None:
        found = session.get(AddressThrottle, key)
        left = _remaining(found.locked_until, now) if found is not None else None
        if left is not None:
            locks.append((scope, left))

    if address:
        throttle(address, "address")
    if row is None:
        throttle(_ghost_key(username), "user")  # unknown names lock like real ones: a lock reveals nothing
        return locks
    throttle(_pair_key(row.id, address), "user-address")
    left = _remaining(row.locked_until, now)
    if left is not None and session.get(KnownAddress, (row.id, address[:64])) is None:
        locks.append(("user", left))
    return locks


def _count(session, key: str, now: datetime, limit: int, lockout) -> float | None:
    """Count one failure against ``key``; lock it when ``limit`` is reached, each lock twice the last.

    Returns the lock's minutes when this failure started one."""
    throttle = session.get(AddressThrottle, key)
    if throttle is None:
        throttle = AddressThrottle(address=key, failures=0, window_start=now, locks=0)
        session.add(throttle)
    if now - throttle.window_start > timedelta(minutes=lockout.ip_window_minutes):
        throttle.failures, throttle.window_start = 0, now
    throttle.failures += 1
    if throttle.failures < limit:
        return None
    minutes = min(lockout.lock_minutes * 2 ** min(throttle.locks or 0, 20), lockout.max_lock_minutes)
    throttle.failures, throttle.window_start = 0, now
    throttle.locked_until = now + timedelta(minutes=minutes)
    throttle.locks = (throttle.locks or 0) + 1
    return minutes


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
