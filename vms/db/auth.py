"""Users, their group grants, sign-in sessions, sign-in throttling and the append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from vms.db.models import Base
from vms.db.types import SealedText, UTCDateTime, utcnow


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class GrantRow(Base):
    """A user or a whole role may use some capabilities on the cameras of one group."""

    __tablename__ = "group_grants"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (role IS NULL)", name="grant_has_one_subject"),
        Index("ix_grants_user", "user_id"),
        Index("ix_grants_role", "role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(32))
    # Not a foreign key: groups come from the YAML file and may be renamed there.
    group_id: Mapped[str] = mapped_column(String(64))
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SessionRow(Base):
    """A browser session (cookie) or an API token (bearer). Only the token's SHA-256 is stored."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "browser" or "api"
    name: Mapped[str] = mapped_column(String(200), default="")
    csrf_token: Mapped[str] = mapped_column(String(64))
    # Capabilities this token is limited to (e.g. ["metrics.read"] for Prometheus); NULL: all of the user's.
    scopes: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # "full", or "enrol": signed in with the password by a user whose role needs two-factor
    # sign-in and who has not set it up yet; such a session may only enrol (or sign out).
    stage: Mapped[str] = mapped_column(String(16), default="full")


class AddressThrottle(Base):
    """Failed sign-ins in the current window of one key: a client address, a (user, address) pair
    ("pair:<user id>|<address>") or an unknown username ("user:<name>")."""

    __tablename__ = "login_throttle"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Locks of this key so far (the next lasts twice as long); forgotten a day after the last one ends.
    locks: Mapped[int] = mapped_column(Integer, default=0)

    @staticmethod
    def pair_prefix(user_id: int) -> str:
        """Keys of one user's (user, address) counters start so."""
        return f"pair:{user_id}|"

    @classmethod
    def pair_key(cls, user_id: int, address: str) -> str:
        return (cls.pair_prefix(user_id) + address)[:64]


class KnownAddress(Base):
    """An address a user signed in from successfully: a username lock does not apply there."""

    __tablename__ = "login_addresses"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_ok_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TwoFactorRow(Base):
    """A user's TOTP seed (sealed, vms.sealing) and the hashes of their unused recovery codes."""

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(SealedText)
    # None while enrolling: the user has seen the QR code but not yet typed a code from it.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The newest 30-second step a code was accepted for: a code is never accepted twice (RFC 6238 5.2).
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    recovery_hashes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what, to what, when and from where. Rows are only ever inserted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"), Index("ix_audit_action", "action"), Index("ix_audit_user", "username"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    username: Mapped[str] = mapped_column(String(64))  # "-" for anonymous, "system" for vms itself
    role: Mapped[str] = mapped_column(String(32), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client_ip: Mapped[str] = mapped_column(String(64), default="")


# The database itself refuses to change or remove audit rows, whatever code runs against it.
_APPEND_ONLY_SQLITE = [
    DDL(
        f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    )
    for verb in ("UPDATE", "DELETE")
]
_APPEND_ONLY_POSTGRES = [
    DDL(
        "CREATE OR REPLACE FUNCTION vms_audit_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql"
    ),
    DDL(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION vms_audit_append_only()"
    ),
]
for _ddl in _APPEND_ONLY_SQLITE:
    event.listen(AuditEntry.__table__, "after_create", _ddl.execute_if(dialect="sqlite"))
for _ddl in _APPEND_ONLY_POSTGRES:
    event.listen(AuditEntry.__table__, "after_create", _ddl.execute_if(dialect="postgresql"))
