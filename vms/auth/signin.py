"""Signing in: password, second factor, and throttling failures so they cannot lock people out.

Failures count per (user, address), per address and per user (``security.lockout``). A lock is
no obstacle to the right second factor, and a user-wide lock none from an address the user
signed in from before, so failed sign-ins from elsewhere can never keep the only admin out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from vms.auth.passwords import burn_time, verify_password
from vms.auth.two_factor import TwoFactor
from vms.auth.users import LoginFailed, User, Users
from vms.config.security import LockoutConfig
from vms.db.auth import AddressThrottle, KnownAddress, UserRow
from vms.db.types import utcnow


class SecondFactorRequired(Exception):
    """The password is right and the user has two-factor sign-in on: send the code too."""


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: who, with which second factor, and whether they must enrol first."""

    user: User
    second_factor: str | None  # "totp", "recovery" or None
    enrol: bool  # the role needs two-factor sign-in and the user has not set it up


class SignInCheck:
    """One place that decides a sign-in: ``SignInCheck(users).authenticate(...)``."""

    def __init__(self, users: Users) -> None:
        self.users = users
        self.db = users.db
        self.config = users.config

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
            if not (row is not None and has_second_factor and code):
                raise LoginFailed(f"{scope} locked", retry)
            # The way back in for a locked-out user: the second factor first, then the password.
            factor = two_factor.verify(row.id, code)
            if factor is None:
                burn_time(password)
                raise LoginFailed(f"{scope} locked, wrong second factor", retry)
        if row is None or stored is None:
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
        user = self.users.get_by_id(row.id)
        return SignIn(user, factor, enrol=two_factor.required_for(user.role) and not has_second_factor)

    def _succeeded(self, user_id: int, address: str, now: datetime, rehashed: str | None) -> None:
        with self.db.session() as session:
            # A user-wide lock runs its course: the attack it answers may still be going on.
            values = {"failed_logins": 0, "last_login_at": now}
            if rehashed:
                values["password_hash"] = rehashed
            session.execute(update(UserRow).where(UserRow.id == user_id).values(**values))
            session.execute(delete(AddressThrottle).where(AddressThrottle.address == AddressThrottle.pair_key(user_id, address)))
            if address:
                known = session.get(KnownAddress, (user_id, address[:64]))
                if known is None:
                    session.add(KnownAddress(user_id=user_id, address=address[:64], last_ok_at=now))
                else:
                    known.last_ok_at = now

    def _failed(self, user_id: int | None, address: str, now: datetime, ghost: str | None = None) -> list[dict[str, Any]]:
        """Count one failure everywhere it counts; returns the lockouts it started (for the audit log)."""
        lockout = self.config.lockout
        started: list[dict[str, Any]] = []

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
                count(AddressThrottle.pair_key(user_id, address), lockout.max_failures, "user-address")
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


def _ghost_key(username: str) -> str:
    return "user:" + username[:59]


def _remaining(locked_until: datetime | None, now: datetime) -> float | None:
    return (locked_until - now).total_seconds() if locked_until is not None and locked_until > now else None


def _active_locks(session: Session, row: UserRow | None, username: str, address: str, now: datetime) -> list[tuple[str, float]]:
    """(scope, seconds left) of each lock standing between this attempt and a password check."""
    locks: list[tuple[str, float]] = []

    def throttle(key: str, scope: str) -> None:
        found = session.get(AddressThrottle, key)
        left = _remaining(found.locked_until, now) if found is not None else None
        if left is not None:
            locks.append((scope, left))

    known = row is not None and session.get(KnownAddress, (row.id, address[:64])) is not None
    # The address lock stops guessing across many names; a user who signed in from this address
    # before (colleagues behind one NAT) is still held by their own (user, address) counter.
    if address and not known:
        throttle(address, "address")
    if row is None:
        throttle(_ghost_key(username), "user")  # unknown names lock like real ones: a lock reveals nothing
        return locks
    throttle(AddressThrottle.pair_key(row.id, address), "user-address")
    left = _remaining(row.locked_until, now)
    if left is not None and not known:
        locks.append(("user", left))
    return locks


def _count(session: Session, key: str, now: datetime, limit: int, lockout: LockoutConfig) -> float | None:
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
    return float(minutes)
