"""The audit log: append an entry, read entries back with filters, write them as CSV.

There is deliberately no function that changes or deletes an entry, and the database
refuses it too (triggers created with the table).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Protocol

from sqlalchemy import select

from vms.db import Database
from vms.db.auth import AuditEntry
from vms.db.types import utcnow

log = logging.getLogger("vms.audit")

_SECRET_KEYS = ("password", "secret", "token", "csrf")


class Actor(Protocol):
    username: str
    role: Any


def _clean(detail: Any) -> Any:
    """Drop anything that looks like a secret, whoever passed it in."""
    if isinstance(detail, dict):
        return {
            str(k): ("***" if any(s in str(k).lower() for s in _SECRET_KEYS) else _clean(v)) for k, v in detail.items()
        }
    if isinstance(detail, (list, tuple)):
        return [_clean(v) for v in detail]
    if isinstance(detail, datetime):
        return detail.isoformat()
    if detail is None or isinstance(detail, (str, int, float, bool)):
        return detail
    return str(detail)


def audit(
    db: Database,
    user: Actor | str | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    client_ip: str = "",
) -> None:
    """Append one entry. ``user`` is a signed-in user, a username, or None for anonymous."""
    if user is None:
        username, role = "-", ""
    elif isinstance(user, str):
        username, role = user, ""
    else:
        role_value = getattr(user.role, "value", user.role)
        username, role = user.username, str(role_value or "")
    entry = AuditEntry(
        at=utcnow(),
        username=username[:64],
        role=role[:32],
        action=action[:64],
        target=str(target)[:200],
        detail=_clean(detail or {}),
        client_ip=(client_ip or "")[:64],
    )
    with db.session() as session:
        session.add(entry)
    log.info("audit %s %s %s from %s", entry.username, entry.action, entry.target, entry.client_ip or "-")


class CoalescedAudit:
    """Audit an action repeated many times a minute (snapshot polling) once per window per
    (user, action, target): the first use writes an entry at once, later uses in the window are
    counted and reported by the next entry. Viewing by polling so leaves a trace without
    writing one row per picture. One per process; thread-safe."""

    def __init__(self, window_seconds: float = 60) -> None:
        self.window = window_seconds
        self._open: dict[tuple[str, str, str], tuple[float, int]] = {}  # key -> (entry written at, uses since)
        self._lock = threading.Lock()

    def record(self, db: Database, user: Actor, action: str, target: str, client_ip: str = "",
               now: float | None = None) -> bool:
        """Count one use; True when an entry was written for it."""
        now = time.monotonic() if now is None else now
        key = (user.username, action, target)
        with self._lock:
            written_at, since = self._open.get(key, (None, 0))
            if written_at is not None and now - written_at < self.window:
                self._open[key] = (written_at, since + 1)
                return False
            self._open[key] = (now, 0)
            if len(self._open) > 10_000:  # forget windows long over
                self._open = {k: v for k, v in self._open.items() if now - v[0] < self.window}
        audit(db, user, action, target, {"uses_since_last_entry": since, "window_seconds": self.window}, client_ip)
        return True


@dataclass
class AuditQuery:
    username: str | None = None
    # An exact action ("login.failed") or a family ending in "." ("camera.").
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    offset: int = 0


def query_audit(db: Database, query: AuditQuery) -> list[AuditEntry]:
    """Entries matching ``query``, newest first."""
    statement = select(AuditEntry)
    if query.username:
        statement = statement.where(AuditEntry.username == query.username)
    if query.action:
        if query.action.endswith("."):
            statement = statement.where(AuditEntry.action.startswith(query.action, autoescape=True))
        else:
            statement = statement.where(AuditEntry.action == query.action)
    if query.target:
        statement = statement.where(AuditEntry.target == query.target)
    if query.since:
        statement = statement.where(AuditEntry.at >= query.since)
    if query.until:
        statement = statement.where(AuditEntry.at < query.until)
    statement = statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(query.limit).offset(query.offset)
    with db.session() as session:
        return list(session.scalars(statement))


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    """The audit entry as the API shows it (``at`` in ISO 8601 UTC)."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "username": entry.username,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
        "client_ip": entry.client_ip,
    }


CSV_COLUMNS = ["id", "at", "username", "role", "action", "target", "client_ip", "detail"]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    # A cell starting with = + - @ is a formula to spreadsheets (CSV injection, OWASP); spreadsheets
    # skip leading blanks and line breaks before reading it, so look past them. Quote it as text.
    if text == "-":  # the anonymous user
        return text
    risky = text[:1] in _FORMULA_STARTS or text.lstrip()[:1] in _FORMULA_STARTS
    return "'" + text if risky else text


def audit_csv(entries: Iterable[AuditEntry]) -> str:
    """The entries as CSV text, one row each under ``CSV_COLUMNS`` (``detail`` as JSON)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        data = entry_dict(entry)
        writer.writerow([_cell(data[c]) if c != "id" else data[c] for c in CSV_COLUMNS])
    return out.getvalue()
