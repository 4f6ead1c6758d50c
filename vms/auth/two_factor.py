"""Two-factor sign-in: TOTP (RFC 6238, by pyotp) with single-use recovery codes.

Enrolment is two steps: ``begin`` makes a seed and shows it (text and a QR code rendered
here, as SVG, never by a third-party service); ``confirm`` switches two-factor on once the
user types a code from their app, and hands out the recovery codes (shown once, stored as
SHA-256: they are random 50-bit codes, not passwords people choose).
A code is accepted at most once: the step it belongs to must be newer than the last one used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from sqlalchemy import delete

from vms.config.security import TwoFactorConfig
from vms.db import Database
from vms.db.auth import TwoFactorRow
from vms.db.engine import rows_affected
from vms.db.types import utcnow
from vms.errors import CodedError

# One step each side of now: a phone clock up to 30 s off still works (RFC 6238 section 5.2).
VALID_WINDOW = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_RECOVERY_LENGTH = 10  # 10 characters of 31: about 50 bits


class TwoFactorError(CodedError):
    """A two-factor step refused, in plain words; ``code``: ``already-on``, ``not-enrolling``,
    ``code-mismatch`` or ``not-on``."""


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into an app by hand
    uri: str  # otpauth:// URI, the QR code's content
    qr_svg: str  # data: URI of the QR code as SVG


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    enrolling: bool
    recovery_codes_left: int


def _hash(code: str) -> str:
    return hashlib.sha256(normalise_recovery(code).encode()).hexdigest()


def normalise_recovery(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


class TwoFactor:
    def __init__(self, db: Database, config: TwoFactorConfig | None = None) -> None:
        self.db = db
        self.config = config or TwoFactorConfig()

    def required_for(self, role: object) -> bool:
        return getattr(role, "value", role) in self.config.required_roles

    def status(self, user_id: int) -> TwoFactorStatus:
        with self.db.session() as session:
            row = session.get(TwoFactorRow, user_id)
            if row is None:
                return TwoFactorStatus(False, False, 0)
            return TwoFactorStatus(row.confirmed_at is not None, row.confirmed_at is None, len(row.recovery_hashes or []))

    def enabled(self, user_id: int) -> bool:
        return self.status(user_id).enabled

    def begin(self, user_id: int, username: str) -> Enrolment:
        """A new seed for ``user_id`` (replacing an unconfirmed one). TwoFactorError when already on."""
        secret = pyotp.random_base32()
        with self.db.session() as session:
            row = session.get(TwoFactorRow, user_id)
            if row is not None and row.confirmed_at is not None:
                raise TwoFactorError("two-factor sign-in is already on; turn it off (or ask an admin to reset it) first", "already-on")
            if row is None:
                row = TwoFactorRow(user_id=user_id)
                session.add(row)
            row.secret, row.confirmed_at, row.last_step, row.recovery_hashes = secret, None, 0, []
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=self.config.issuer)
        qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
        return Enrolment(secret, uri, qr)

    def confirm(self, user_id: int, code: str, now: float | None = None) -> list[str]:
        """Switch two-factor on with a first code; returns the recovery codes (shown once)."""
        with self.db.session() as session:
            row = session.get(TwoFactorRow, user_id)
            if row is None or row.confirmed_at is not None:
                raise TwoFactorError("start enrolment first", "not-enrolling")
            step = _matching_step(row.secret, code, row.last_step, now)
            if step is None:
                raise TwoFactorError("the code does not match; check the phone's clock and type the newest code", "code-mismatch")
            codes = [_recovery_code() for _ in range(self.config.recovery_codes)]
            row.confirmed_at, row.last_step, row.recovery_hashes = utcnow(), step, [_hash(c) for c in codes]
            return codes

    def verify(self, user_id: int, code: str, now: float | None = None) -> str | None:
        """"totp" or "recovery" when ``code`` is right (a recovery code is used up), else None."""
        code = (code or "").strip()
        with self.db.session() as session:
            row = session.get(TwoFactorRow, user_id, with_for_update=True)
            if row is None or row.confirmed_at is None:
                return None
            step = _matching_step(row.secret, code, row.last_step, now)
            if step is not None:
                row.last_step = step
                return "totp"
            hashes = list(row.recovery_hashes or [])
            wanted = _hash(code)
            for stored in hashes:
                if hmac.compare_digest(stored, wanted):
                    hashes.remove(stored)
                    row.recovery_hashes = hashes
                    return "recovery"
        return None

    def new_recovery_codes(self, user_id: int) -> list[str]:
        codes = [_recovery_code() for _ in range(self.config.recovery_codes)]
        with self.db.session() as session:
            row = session.get(TwoFactorRow, user_id)
            if row is None or row.confirmed_at is None:
                raise TwoFactorError("two-factor sign-in is not on", "not-on")
            row.recovery_hashes = [_hash(c) for c in codes]
        return codes

    def remove(self, user_id: int) -> bool:
        """Turn two-factor off (an admin's reset, or the user's own choice where the role allows)."""
        with self.db.session() as session:
            return rows_affected(session.execute(delete(TwoFactorRow).where(TwoFactorRow.user_id == user_id))) > 0


def _matching_step(secret: str, code: str, last_step: int, now: float | None) -> int | None:
    """The time step ``code`` belongs to, if within the window and newer than ``last_step``."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    current = int(moment // totp.interval)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None
