"""Secrets at rest: small secrets (camera passwords, two-factor seeds) sealed with a key kept outside the database.

The key is ``VMS_SECRET_KEY`` (a Fernet key, urlsafe base64 of 32 bytes) or, without it, the
file ``<data_dir>/secret.key``, created 0600 on first start. A stolen database (a backup, a
copied file) then holds only ciphertext. Fernet (``cryptography``) is AES-128-CBC with
HMAC-SHA256: tampering is detected, not silently decrypted.

Sealed values are stored as ``fernet:<token>``; a value without the prefix is a row written
before sealing existed and is read as it is, then resealed at the next start.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "fernet:"
KEY_ENV = "VMS_SECRET_KEY"
KEY_FILE = "secret.key"


class SealingError(RuntimeError):
    """A sealed value that this key cannot open (wrong key, or tampered)."""


class Sealer:
    def __init__(self, key: bytes | str) -> None:
        self._fernet = Fernet(key)

    def seal(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SealingError("a sealed secret cannot be opened with this key (VMS_SECRET_KEY or secret.key changed?)") from None


def is_sealed(stored: str | None) -> bool:
    return stored is not None and stored.startswith(PREFIX)


def load_key(data_dir: Path, key: str | None = None) -> bytes:
    """``key`` (the setting ``secret_key``, i.e. ``VMS_SECRET_KEY``), else ``data_dir/secret.key`` (made 0600 when missing)."""
    if key:
        return key.encode("ascii")
    path = Path(data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: two processes starting together never both write a key; the loser reads the winner's.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


def sealer_for(data_dir: Path, key: str | None = None) -> Sealer:
    return Sealer(load_key(data_dir, key))
