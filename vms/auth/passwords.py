"""Password hashing (argon2id, rehashed at sign-in when the parameters change) and password rules."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

# Passwords people pick first; refused whatever their length.
_COMMON = {
    "password", "password1", "password123", "passw0rd", "123456789", "1234567890", "12345678910",
    "qwertyuiop", "qwerty123", "admin12345", "administrator", "letmein123", "iloveyou1",
    "changeme123", "welcome123", "matkhau123", "matkhau", "abc123456", "11111111111",
}


class WeakPassword(ValueError):
    """A password vms refuses: the reason in plain words, and as ``code`` + ``params`` for
    clients that say it in their own language."""

    def __init__(self, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (PHC string with its own salt and parameters)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> tuple[bool, str | None]:
    """Check ``password``; on success also return a fresh hash when the stored one is outdated."""
    try:
        _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(stored_hash) else None)


# Verified against when the username does not exist, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("vms-no-such-user")


def burn_time(password: str) -> None:
    """Spend what a real verification costs, so an unknown username answers as slowly as a wrong password."""
    verify_password(_DUMMY_HASH, password)


def check_strength(password: str, username: str = "", min_length: int = 10) -> None:
    """Raise WeakPassword unless ``password`` is long and varied enough."""
    if len(password) < min_length:
        raise WeakPassword(f"password must be at least {min_length} characters long", "too-short", min=min_length)
    if len(password) > 1024:
        raise WeakPassword("password must be at most 1024 characters long", "too-long", max=1024)
    if password.strip() != password:
        raise WeakPassword("password must not start or end with a space", "edge-space")
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) < 5:
        raise WeakPassword("password is too easy to guess", "too-common")
    if username and len(username) >= 3 and username.lower() in lowered:
        raise WeakPassword("password must not contain the username", "contains-username")
    classes = sum(
        (any(c.islower() for c in password), any(c.isupper() for c in password),
         any(c.isdigit() for c in password), any(not c.isalnum() for c in password))
    )
    # A long passphrase is strong without symbols; a shorter password needs variety.
    if len(password) < 16 and classes < 3:
        raise WeakPassword(
            "password needs three of: lowercase letters, uppercase letters, digits, symbols "
            "(or use a passphrase of 16 characters or more)", "too-simple", passphrase=16
        )
