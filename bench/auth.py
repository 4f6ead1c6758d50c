"""Benchmark what issue 13's defences cost, each beside the obvious alternative, in one run.

- Password check: zxcvbn with the Vietnamese and system words vs the old rule (length, a
  19-word blocklist, three character classes). Also how many of a list of guessable
  passwords each lets through, the reason zxcvbn is worth its milliseconds.
- Camera password at rest: Fernet seal + open vs keeping the plain string.
- Sign-in: what a TOTP code check (pyotp) adds to the argon2id password check.

    python3 bench/auth.py            # 200 rounds each
    python3 bench/auth.py --rounds 50
"""

from __future__ import annotations

import argparse
import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyotp  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from vms.auth.passwords import WeakPassword, check_strength, hash_password, verify_password  # noqa: E402
from vms.sealing import Sealer  # noqa: E402

# The old rule, as it was before issue 13, for comparison only.
_OLD_COMMON = {
    "password", "password1", "password123", "passw0rd", "123456789", "1234567890", "12345678910",
    "qwertyuiop", "qwerty123", "admin12345", "administrator", "letmein123", "iloveyou1",
    "changeme123", "welcome123", "matkhau123", "matkhau", "abc123456", "11111111111",
}
GUESSABLE = ["Password1!", "P@ssw0rd12", "Matkhau@123", "1234567890123456", "Matkhau2026!", "HoChiMinh@2026",
             "ThuThiem@123", "Admin@12345", "Saigon@2026", "Anhyeuem@123", "Nguyen@1990", "Vietnam@2025"]
STRONG = "Correct-Horse-7-Battery-5"


def old_rule(password: str) -> bool:
    """True when the pre-issue-13 rule accepted ``password``."""
    if len(password) < 10 or password.lower() in _OLD_COMMON or len(set(password)) < 5:
        return False
    classes = sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                   any(c.isdigit() for c in password), any(c in string.punctuation for c in password)))
    return len(password) >= 16 or classes >= 3


def new_rule(password: str) -> bool:
    try:
        check_strength(password, "duty1")
    except WeakPassword:
        return False
    return True


def median_ms(function, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds

    print(f"password check (median of {rounds}, '{STRONG}')")
    old_ms, new_ms = median_ms(lambda: old_rule(STRONG), rounds), median_ms(lambda: new_rule(STRONG), rounds)
    print(f"  old rule            {old_ms:9.3f} ms   lets through {sum(map(old_rule, GUESSABLE))}/{len(GUESSABLE)} guessable")
    print(f"  zxcvbn + vi words   {new_ms:9.3f} ms   lets through {sum(map(new_rule, GUESSABLE))}/{len(GUESSABLE)} guessable")
    print(f"  ratio               {new_ms / old_ms:9.0f} x slower, once per password change")

    sealer, secret = Sealer(Fernet.generate_key()), "Cam-Pass-7731"
    sealed = sealer.seal(secret)
    plain_ms = median_ms(lambda: str(secret), rounds * 10)
    seal_ms = median_ms(lambda: sealer.open(sealer.seal(secret)), rounds * 10)
    print(f"camera password at rest (median of {rounds * 10})")
    print(f"  plain               {plain_ms * 1000:9.2f} us")
    print(f"  Fernet seal + open  {seal_ms * 1000:9.2f} us   ({len(sealed)} bytes stored for {len(secret)})")

    stored = hash_password(STRONG)
    totp = pyotp.TOTP(pyotp.random_base32())
    argon_rounds = max(5, rounds // 20)
    argon_ms = median_ms(lambda: verify_password(stored, STRONG), argon_rounds)
    # The TOTP check is microseconds: measured on its own, since argon2's run-to-run noise is larger.
    totp_ms = median_ms(lambda: totp.verify(totp.now(), valid_window=1), rounds * 10)
    print(f"sign-in check (argon2 median of {argon_rounds}, TOTP of {rounds * 10})")
    print(f"  argon2id verify     {argon_ms:9.1f} ms")
    print(f"  + TOTP code check   {totp_ms * 1000:9.1f} us   adds {100 * totp_ms / argon_ms:.3f} % to a sign-in")


if __name__ == "__main__":
    main()
