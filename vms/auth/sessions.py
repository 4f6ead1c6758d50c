"""Sign-in sessions and API tokens: random tokens handed out once, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from vms.config.security import SecurityConfig
from vms.background import Periodic
from vms.db import Database
from vms.db.engine import rows_affected
from vms.db.auth import SessionRow, UserRow
from vms.db.types import utcnow

TOKEN_PREFIX = "vms_"  # lets secret scanners and people recognise a leaked token
# last_seen_at is written at most this often per session, not on every request.
TOUCH_SECONDS = 60


def token_hash(token: str) -> str:
    """SHA-256 hex of a session or API token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedSession:
    token: str  # shown once: to the browser as a cookie or to the script that asked
    id: str
    csrf_token: str
    expires_at: datetime | None


def create_session(
    db: Database,
    user_id: int,
    config: SecurityConfig,
    kind: str = "browser",
    client_ip: str = "",
    user_agent: str = "",
    name: str = "",
    scopes: list[str] | None = None,
    days: float | None = None,
    stage: str = "full",
) -> IssuedSession:
    """A browser session (expires after ``config.session_hours``) or an API token (``days``, or never)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires: datetime | None
    if kind == "browser":
        expires = now + timedelta(hours=config.session_hours)
    else:
        expires = now + timedelta(days=days) if days else None
    row = SessionRow(
        id=secrets.token_hex(16),
        token_hash=token_hash(token),
        user_id=user_id,
        kind=kind,
        name=name[:200],
        csrf_token=secrets.token_urlsafe(32),
        scopes=scopes,
        created_at=now,
        expires_at=expires,
        last_seen_at=now,
        client_ip=client_ip[:64],
        user_agent=user_agent[:300],
        stage=stage,
    )
    with db.session() as session:
        session.add(row)
    return IssuedSession(token, row.id, row.csrf_token, expires)


def resolve_session(db: Database, token: str, config: SecurityConfig) -> tuple[UserRow, SessionRow] | None:
    """The user and session a token stands for, or None when unknown, expired, idle or disabled."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = utcnow()
    with db.session() as session:
        found = session.execute(
            select(SessionRow, UserRow).join(UserRow, UserRow.id == SessionRow.user_id).where(
                SessionRow.token_hash == token_hash(token)
            )
        ).first()
        if found is None:
            return None
        row, user = found
        idle_limit = timedelta(minutes=config.session_idle_minutes)
        if (
            user.disabled
            or (row.expires_at is not None and row.expires_at <= now)
            or (row.kind == "browser" and now - row.last_seen_at > idle_limit)
        ):
            session.delete(row)
            return None
        if (now - row.last_seen_at).total_seconds() > TOUCH_SECONDS:
            session.execute(update(SessionRow).where(SessionRow.id == row.id).values(last_seen_at=now))
        return user, row


def complete_session(db: Database, session_id: str) -> None:
    """An enrolment-only session becomes a full one (the user has just switched two-factor on)."""
    with db.session() as session:
        session.execute(update(SessionRow).where(SessionRow.id == session_id).values(stage="full"))


def revoke_session(db: Database, session_id: str) -> bool:
    """End one session or token; False when there was none with that id."""
    with db.session() as session:
        return rows_affected(session.execute(delete(SessionRow).where(SessionRow.id == session_id))) > 0


def revoke_user_sessions(db: Database, user_id: int, keep: str | None = None, kind: str | None = None) -> int:
    """End every session and token of a user (except ``keep``; only of ``kind`` if given); returns how many."""
    with db.session() as session:
        query = delete(SessionRow).where(SessionRow.user_id == user_id)
        if keep is not None:
            query = query.where(SessionRow.id != keep)
        if kind is not None:
            query = query.where(SessionRow.kind == kind)
        return rows_affected(session.execute(query))


def api_tokens(db: Database, user_id: int) -> list[SessionRow]:
    """The user's API tokens (sessions of kind ``api``), oldest first; the rows hold hashes only."""
    with db.session() as session:
        return list(session.scalars(
            select(SessionRow).where(SessionRow.user_id == user_id, SessionRow.kind == "api")
            .order_by(SessionRow.created_at)
        ))


def revoke_token(db: Database, user_id: int, token_id: str) -> bool:
    """End one of the user's API tokens; False when the user has no token with that id."""
    with db.session() as session:
        row = session.get(SessionRow, token_id[:32])
        if row is None or row.user_id != user_id or row.kind != "api":
            return False
        session.delete(row)
        return True


class SessionPurge(Periodic):
    """Deletes expired sessions and tokens every ``interval`` seconds (hourly by default).

    Expired rows already sign nobody in; purging keeps the table (and every look-up) small.
    """

    def __init__(self, db: Database, interval: float = 3600.0) -> None:
        super().__init__("session-purge", interval, first_tick=True)
        self.db = db
        self.purged = 0

    def tick(self) -> None:
        self.purged += purge_expired(self.db)


def purge_expired(db: Database) -> int:
    """Delete sessions and tokens past their expiry; how many were deleted."""
    with db.session() as session:
        return rows_affected(session.execute(
            delete(SessionRow).where(SessionRow.expires_at.is_not(None), SessionRow.expires_at <= utcnow())
        ))
