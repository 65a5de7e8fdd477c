"""Password hashing with argon2id, and the equal-work check for unknown users (SECURITY 4)."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from console.platform.errors import UserError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's defaults follow RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4).
_HASHER = PasswordHasher()


class WeakPassword(UserError):
    """The chosen password does not meet the minimum policy."""


def check_policy(password: str) -> None:
    """Refuse passwords that are too short or absurdly long (the latter is a DoS guard)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (salted, parameters encoded in the string)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash`; a malformed hash is simply a mismatch."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    """A hash of a random password with today's parameters (not user data; made once)."""
    return _HASHER.hash(secrets.token_urlsafe(32))


def verify_dummy(password: str) -> bool:
    """Spend the same argon2 work as a real check, for unknown users; always False."""
    verify_password(_dummy_hash(), password)
    return False


def generate_password() -> str:
    """A random password strong enough to hand out once (about 120 bits)."""
    return secrets.token_urlsafe(15)
