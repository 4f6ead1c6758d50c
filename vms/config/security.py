"""Typed configuration of sign-in, sessions, lockout, two-factor, camera addresses and what each role reaches by default."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork

from vms.config.cameras import ID_PATTERN

GroupId = Annotated[str, Field(pattern=ID_PATTERN)]


RoleName = Literal["admin", "technician", "operator", "investigator"]


class LockoutConfig(BaseModel):
    """Sign-in throttling (ASVS 2.2.1): per (username, address), per address, and per username."""

    model_config = ConfigDict(extra="forbid")

    # Consecutive failed sign-ins of one username from one address before that pair is locked.
    # Each further lock of the pair lasts twice as long (lock_minutes, 2x, 4x ... up to max_lock_minutes).
    max_failures: int = Field(default=5, ge=1, le=100)
    lock_minutes: float = Field(default=5, gt=0, le=24 * 60)
    max_lock_minutes: float = Field(default=24 * 60, gt=0, le=7 * 24 * 60)
    # Failures of one username from all addresses together before it is locked for unknown
    # addresses; from an address where the user signed in before, or with the second factor,
    # the user still gets in (so nobody can lock the only admin out from elsewhere).
    user_max_failures: int = Field(default=20, ge=1, le=10_000)
    # A command centre signs in from few addresses (often one NAT), so the per-address limit
    # is higher than the per-user one: it stops guessing across many usernames, not colleagues.
    ip_max_failures: int = Field(default=20, ge=1, le=10_000)
    ip_window_minutes: float = Field(default=15, gt=0, le=24 * 60)


_TWO_FACTOR_ROLES: tuple[RoleName, ...] = ("admin", "investigator")


class TwoFactorConfig(BaseModel):
    """Two-factor sign-in with a time-based one-time password (TOTP, RFC 6238)."""

    model_config = ConfigDict(extra="forbid")

    # Roles that must use it: at their first sign-in without it they can only enrol.
    required_roles: list[RoleName] = Field(default_factory=lambda: list(_TWO_FACTOR_ROLES))
    # The name authenticator apps show next to the code.
    issuer: str = Field(default="vms", min_length=1, max_length=64)
    # Single-use codes for a lost phone, shown once at enrolment and stored hashed.
    recovery_codes: int = Field(default=10, ge=4, le=20)


def _default_denied() -> list[IPvAnyNetwork]:
    return [IPv4Network(n) if ":" not in n else IPv6Network(n) for n in DEFAULT_DENIED_RANGES]


# Never a camera: this machine (loopback), link-local (169.254.0.0/16 holds cloud metadata
# services), "this network", multicast and broadcast, and their IPv6 counterparts.
DEFAULT_DENIED_RANGES = (
    "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32",
    "::1/128", "fe80::/10", "::/128", "ff00::/8",
)


class CameraAddressConfig(BaseModel):
    """Which addresses a camera URL may point at (registration and probing), so the camera
    forms cannot be used to scan this machine or reach its services (SSRF, ASVS 12.6.1)."""

    model_config = ConfigDict(extra="forbid")

    deny: list[IPvAnyNetwork] = Field(default_factory=_default_denied)
    # Exceptions to ``deny``, e.g. 127.0.0.0/8 for simulated cameras on this machine (demo, tests).
    allow: list[IPvAnyNetwork] = Field(default_factory=list)
    # The address and port of each of vms's own services (database, Redis, the web server) are
    # refused whatever ``allow`` says; list further ones here as "host:port".
    deny_services: list[str] = Field(default_factory=list)


class SecurityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Operators may play back only this far into the past (minutes before now).
    operator_lookback_minutes: float = Field(default=30, gt=0, le=7 * 24 * 60)
    # Camera groups each role reaches without a per-user grant. Investigators (the district
    # police) reach the groups shared with police; admins and technicians reach every group.
    role_groups: dict[str, list[GroupId]] = Field(default_factory=lambda: {"investigator": ["tunnel"], "operator": []})
    # A browser session ends this long after sign-in, or after this long unused.
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    session_idle_minutes: float = Field(default=120, gt=0, le=24 * 60 * 30)
    # Send the session cookie only over HTTPS. Browsers treat http://localhost as secure;
    # switch off only for a lab reached by plain HTTP on another address.
    cookie_secure: bool = True
    password_min_length: int = Field(default=10, ge=8, le=128)
    # zxcvbn score a password needs (0-4; 4: estimated more than 10^10 guesses).
    password_min_score: int = Field(default=4, ge=0, le=4)
    lockout: LockoutConfig = LockoutConfig()
    two_factor: TwoFactorConfig = TwoFactorConfig()
    camera_addresses: CameraAddressConfig = CameraAddressConfig()
    # Live snapshots are audited once per user and camera in this window (with a count of the rest).
    snapshot_audit_seconds: float = Field(default=60, gt=0, le=3600)
    # Longest range one playback request or export may cover.
    max_range_hours: float = Field(default=6, gt=0, le=7 * 24)
    # Evidence exports, relative to data_dir unless absolute.
    exports_dir: Path = Path("exports")
    # Exports built at the same time; more wait in line.
    export_workers: int = Field(default=2, ge=1, le=16)
    # The installation's Ed25519 key that signs every evidence package (made on first use,
    # mode 0600), relative to data_dir unless absolute. Back it up: packages signed with a
    # lost key still verify against its published public key, but no new ones can be.
    evidence_key_file: Path = Path("keys/evidence-ed25519.pem")


def security_of(settings: object) -> SecurityConfig:
    """The settings' security section (defaults until Settings has one)."""
    return getattr(settings, "security", None) or SecurityConfig()
