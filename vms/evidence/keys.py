"""The installation's Ed25519 signing key: made on first use, kept in a 0600 file outside the database.

The private key never leaves the file (nothing logs or serves it); the public key is published
(``GET /api/evidence/public-key``) so anyone can check a package offline. The key id is the
first 16 hex digits of the SHA-256 of the raw 32-byte public key, short enough to read aloud.
"""

from __future__ import annotations

import json

import base64
import hashlib
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

if TYPE_CHECKING:
    from vms.config import Settings

log = logging.getLogger(__name__)

ALGORITHM = "Ed25519"
KEY_ID_HEX = 16


class SigningKeyError(RuntimeError):
    """The key file exists but cannot be used (unreadable, not an Ed25519 PEM key)."""


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()[:KEY_ID_HEX]


def public_from_base64(value: str) -> Ed25519PublicKey:
    """A public key from the base64 of its 32 raw bytes (ValueError if it is not one)."""
    raw = base64.b64decode(value, validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public_pem(data: bytes) -> Ed25519PublicKey:
    """A public key from PEM (SubjectPublicKeyInfo), or from the JSON answer of
    ``GET /api/evidence/public-key`` saved as it came (its ``public_key_pem``); ValueError if it
    is neither or not an Ed25519 key."""
    if data.lstrip().startswith(b"{"):
        try:
            data = json.loads(data)["public_key_pem"].encode()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError("JSON without a public_key_pem field (save GET /api/evidence/public-key)") from exc
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class SigningKey:
    """The private key and what may be told about it."""

    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    @property
    def public_base64(self) -> str:
        return base64.b64encode(raw_public(self.public)).decode()

    @property
    def public_pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def load_or_create(path: Path) -> SigningKey:
    """The key in ``path``, made (mode 0600, folder 0700) if there is none yet.

    Several processes may start together: the key is written to a private temporary file and
    hard-linked into place, so exactly one wins and the others read the winner's key.
    Raises ``SigningKeyError`` for a file that is not an Ed25519 private key.
    """
    path = Path(path)
    if not path.exists():
        _create(path)
    return _load(path)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
            log.info("made the installation's evidence signing key %s", path)
        except FileExistsError:
            pass  # another process made it first; use theirs
    finally:
        temporary.unlink(missing_ok=True)


def _load(path: Path) -> SigningKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("evidence key %s was readable by others (mode %o); restricting it to 0600", path, mode)
        os.chmod(path, 0o600)
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise SigningKeyError(f"evidence key {path} cannot be read: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError(f"evidence key {path} is not an Ed25519 private key")
    return SigningKey(private, path)


def installation_key(settings: "Settings") -> SigningKey:
    """The key named by ``settings.security.evidence_key_file`` (relative to ``data_dir``)."""
    from vms.config.security import security_of

    path = security_of(settings).evidence_key_file
    return load_or_create(path if path.is_absolute() else settings.data_dir / path)
