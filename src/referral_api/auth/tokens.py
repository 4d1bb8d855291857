"""User sessions: opaque access tokens (15 min) and rotating refresh tokens (30 days).

Opaque rather than JWT so that logout and revocation take effect at once on every worker;
only SHA-256 hashes are stored.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.auth.principals import (
    ACCESS_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    Principal,
    hash_api_key,
)
from referral_api.auth.roles import ROLE_SCOPES
from referral_api.errors import Unauthorized
from referral_api.models import AuthToken, User

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=30)


class RefreshTokenReused(Exception):
    def __init__(self, family_id: uuid.UUID) -> None:
        super().__init__("refresh token reused")
        self.family_id = family_id


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def _now() -> datetime:
    return datetime.now(UTC)


def _new(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


async def issue(session: AsyncSession, *, user: User, family_id: uuid.UUID | None = None
                ) -> TokenPair:
    now = _now()
    family = family_id or uuid.uuid4()
    access, refresh = _new(ACCESS_TOKEN_PREFIX), _new(REFRESH_TOKEN_PREFIX)
    session.add_all([
        AuthToken(id=uuid.uuid4(), user_id=user.id, family_id=family, kind="access",
                  token_hash=hash_api_key(access), created_at=now, expires_at=now + ACCESS_TTL),
        AuthToken(id=uuid.uuid4(), user_id=user.id, family_id=family, kind="refresh",
                  token_hash=hash_api_key(refresh), created_at=now,
                  expires_at=now + REFRESH_TTL),
    ])
    await session.flush()
    return TokenPair(access, refresh, int(ACCESS_TTL.total_seconds()))


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(AuthToken).where(AuthToken.family_id == family_id,
                                AuthToken.revoked_at.is_(None)).values(revoked_at=_now())
    )


async def refresh(session: AsyncSession, *, refresh_token: str) -> TokenPair:
    """Rotate: the presented refresh token is spent; reusing a spent one ends the family."""
    if not refresh_token.startswith(REFRESH_TOKEN_PREFIX) or len(refresh_token) > 200:
        raise Unauthorized("invalid refresh token")
    row = (
        await session.execute(
            select(AuthToken).where(AuthToken.token_hash == hash_api_key(refresh_token),
                                    AuthToken.kind == "refresh").with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.expires_at <= _now():
        raise Unauthorized("invalid refresh token")
    if row.revoked_at is not None:
        # A spent refresh token presented again was stolen or replayed: the caller ends
        # every session of its family (in a transaction that outlives this failure).
        raise RefreshTokenReused(row.family_id)
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("invalid refresh token")
    await revoke_family(session, row.family_id)
    return await issue(session, user=user, family_id=row.family_id)


async def principal_for_access_token(session: AsyncSession, token: str) -> Principal:
    row = (
        await session.execute(
            select(AuthToken, User).join(User, User.id == AuthToken.user_id).where(
                AuthToken.token_hash == hash_api_key(token), AuthToken.kind == "access")
        )
    ).first()
    if row is None:
        raise Unauthorized()
    tok, user = row
    if tok.revoked_at is not None or tok.expires_at <= _now() or not user.active:
        raise Unauthorized()
    return Principal("user", user.id, user.organization_id, ROLE_SCOPES[user.role],
                     role=user.role, session_family=tok.family_id)


async def logout(session: AsyncSession, *, family_id: uuid.UUID) -> None:
    await revoke_family(session, family_id)
