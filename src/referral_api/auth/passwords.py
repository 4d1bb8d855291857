"""Argon2id password hashing (memory-hard), via argon2-cffi."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id, 64 MiB, t=3, p=4: OWASP's recommended floor
# Verified against when the user does not exist, so timing does not reveal which
# usernames are real.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


async def hash_password_async(password: str) -> str:
    """Hash in a worker thread: argon2 takes a few hundred ms of CPU and must not stall
    the event loop."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
