"""Password hashing (argon2id, rehashed at sign-in when the parameters change) and password rules."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from vms.auth.guessable import GUESSABLE_WORDS

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

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


# zxcvbn's cost grows with length; the first characters decide whether a password is guessable.
_ESTIMATE_CHARACTERS = 100


def check_strength(password: str, username: str = "", min_length: int = 10, min_score: int = 4,
                   context: tuple[str, ...] = ()) -> None:
    """Raise WeakPassword unless ``password`` is long enough and hard to guess (ASVS 2.1.7).

    Guessability is zxcvbn's offline estimate (score 0-4; 4 means more than 10^10 guesses),
    with the username, ``context`` words and the Vietnamese and system words of
    ``vms.auth.guessable`` counted as likely guesses. No composition rules (ASVS 2.1.9).
    """
    if len(password) < min_length:
        raise WeakPassword(f"password must be at least {min_length} characters long", "too-short", min=min_length)
    if len(password) > 1024:
        raise WeakPassword("password must be at most 1024 characters long", "too-long", max=1024)
    if password.strip() != password:
        raise WeakPassword("password must not start or end with a space", "edge-space")
    if username and len(username) >= 3 and username.lower() in password.lower():
        raise WeakPassword("password must not contain the username", "contains-username")
    inputs = [w for w in (username, *context, *GUESSABLE_WORDS) if w]
    estimate = zxcvbn(password[:_ESTIMATE_CHARACTERS], user_inputs=inputs)
    if estimate["score"] < min_score:
        hint = estimate["feedback"].get("warning") or "it follows a common pattern"
        raise WeakPassword(
            f"password is too easy to guess ({hint.rstrip('.')}); "
            "a few unrelated words or a longer passphrase are better than symbols", "too-common"
        )
