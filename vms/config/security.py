"""Typed configuration of sign-in, sessions, lockout and what each role reaches by default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from vms.config.cameras import ID_PATTERN

GroupId = Annotated[str, Field(pattern=ID_PATTERN)]


class LockoutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Consecutive failed sign-ins of one username before it is locked.
    max_failures: int = Field(default=5, ge=1, le=100)
    lock_minutes: float = Field(default=5, gt=0, le=24 * 60)
    # A command centre signs in from few addresses (often one NAT), so the per-address limit
    # is higher than the per-user one: it stops guessing across many usernames, not colleagues.
    ip_max_failures: int = Field(default=20, ge=1, le=10_000)
    ip_window_minutes: float = Field(default=15, gt=0, le=24 * 60)


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
    lockout: LockoutConfig = LockoutConfig()
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
