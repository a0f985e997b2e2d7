"""Agents' passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommendation).

A password is checked in constant work whether or not the agent has one, so the time of a
failed login does not tell whether the address is an agent's.
"""

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a megabyte "password" would only cost us CPU


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("not a password anyone has")


def password_problem(password: str) -> str:
    """Why a new password is refused ('' if it is acceptable)."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if password.strip() != password:
        return "a password does not start or end with white space (a copy-and-paste slip?)"
    return ""


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash; with no hash, as slow and always False."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """The hash was made with weaker parameters than today's: store a new one at the next login."""
    try:
        return _hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True
