"""Password hashing with argon2id (argon2-cffi): hashing, constant-time checking, rehashing on new parameters.

Hashing costs tens of milliseconds of CPU on purpose; the request handlers run it in a worker thread.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12
# Bounds the work one login can cause; far above any passphrase a person types.
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's defaults: argon2id with RFC 9106's low-memory profile (t=3, m=64 MiB, p=4).
DEFAULT_HASHER = PasswordHasher()


class PasswordTooShort(ValueError):
    def __init__(self) -> None:
        super().__init__(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")


class PasswordTooLong(ValueError):
    """Longer than sign-in accepts (MAX_PASSWORD_LENGTH bounds the hashing work): it could never be used."""

    def __init__(self) -> None:
        super().__init__(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")


def check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    check_password_length(password)
    return hasher.hash(password)


@functools.cache
def _unknown_account_hash(hasher: PasswordHasher) -> str:
    """The hash checked when no account has the email, so that a wrong email costs what a wrong password
    costs (the answer's timing does not tell which emails have accounts)."""
    return hasher.hash(secrets.token_urlsafe(32))


def check_password(stored_hash: str | None, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Whether `password` matches `stored_hash` (None: no such account, always False after the same work).

    argon2's verify compares the computed hash in constant time.
    """
    try:
        matched = hasher.verify(stored_hash or _unknown_account_hash(hasher), password)
    except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
        return False
    return matched and stored_hash is not None


def needs_rehash(stored_hash: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """True when the hash was made with other parameters than `hasher`'s (they were raised since)."""
    return hasher.check_needs_rehash(stored_hash)
