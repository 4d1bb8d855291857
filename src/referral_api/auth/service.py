"""Members (users) of organizations, password login with throttling, sessions."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.auth import tokens
from referral_api.auth.passwords import hash_password, needs_rehash, verify_password
from referral_api.auth.principals import Principal
from referral_api.db import on_failure
from referral_api.errors import APIError, Conflict, NotFound, Unauthorized
from referral_api.models import AuthToken, LoginThrottle, User

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


class TooManyRequests(APIError):
    status, type, title = 429, "too-many-requests", "Too many requests"


def _now() -> datetime:
    return datetime.now(UTC)


async def _check_throttle(session: AsyncSession, username: str) -> None:
    row = await session.get(LoginThrottle, username)
    if row is not None and row.locked_until is not None and row.locked_until > _now():
        retry = max(1, math.ceil((row.locked_until - _now()).total_seconds()))
        raise TooManyRequests(
            "too many failed logins for this account; try again later",
            headers={"Retry-After": str(retry)},
        )


_RECORD_FAILURE = text("""
INSERT INTO login_throttle AS t (username, failures, window_started_at, locked_until)
VALUES (:u, 1, :now, NULL)
ON CONFLICT (username) DO UPDATE SET
  failures = CASE WHEN t.window_started_at < :window_start THEN 1 ELSE t.failures + 1 END,
  window_started_at = CASE WHEN t.window_started_at < :window_start THEN :now
                           ELSE t.window_started_at END,
  locked_until = CASE
    WHEN t.window_started_at >= :window_start AND t.failures + 1 >= :max THEN :lock_until
    ELSE t.locked_until END
""")


async def password_login(request: Request, session: AsyncSession, *, username: str,
                         password: str) -> tokens.TokenPair:
    key = username.strip().lower()
    await _check_throttle(session, key)
    user = (
        await session.execute(select(User).where(User.email_lower == key))
    ).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        now = _now()

        async def remember_failure(s: AsyncSession) -> None:
            await s.execute(_RECORD_FAILURE, {
                "u": key, "now": now, "window_start": now - WINDOW, "max": MAX_FAILURES,
                "lock_until": now + LOCKOUT,
            })

        on_failure(request, remember_failure)
        raise Unauthorized("invalid username or password")
    await session.execute(text("DELETE FROM login_throttle WHERE username = :u"), {"u": key})
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return await tokens.issue(session, user=user)


async def refresh(request: Request, session: AsyncSession, *, refresh_token: str
                  ) -> tokens.TokenPair:
    try:
        return await tokens.refresh(session, refresh_token=refresh_token)
    except tokens.RefreshTokenReused as reused:
        family = reused.family_id

        async def end_family(s: AsyncSession) -> None:
            await tokens.revoke_family(s, family)

        on_failure(request, end_family)
        raise Unauthorized("invalid refresh token") from None


async def logout(session: AsyncSession, principal: Principal) -> None:
    if principal.session_family is not None:
        await tokens.logout(session, family_id=principal.session_family)


# -- members -----------------------------------------------------------------------------


async def create_member(session: AsyncSession, *, organization_id: uuid.UUID, email: str,
                        name: str, role: str, password: str) -> User:
    email_lower = email.strip().lower()
    taken = (
        await session.execute(select(User.id).where(User.email_lower == email_lower))
    ).first()
    if taken is not None:
        raise Conflict("a member with this email already exists")
    user = User(id=uuid.uuid4(), organization_id=organization_id, email=email.strip(),
                email_lower=email_lower, name=name, role=role,
                password_hash=hash_password(password), active=True, version=1)
    session.add(user)
    await session.flush()
    return user


async def get_member(session: AsyncSession, *, organization_id: uuid.UUID, user_id: uuid.UUID,
                     for_update: bool = False) -> User:
    stmt = select(User).where(User.id == user_id, User.organization_id == organization_id)
    if for_update:
        stmt = stmt.with_for_update()
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFound("member not found")
    return user


async def list_members(session: AsyncSession, *, organization_id: uuid.UUID, limit: int,
                       after: uuid.UUID | None) -> list[User]:
    stmt = (select(User).where(User.organization_id == organization_id)
            .order_by(User.id).limit(limit + 1))
    if after is not None:
        stmt = stmt.where(User.id > after)
    return list((await session.execute(stmt)).scalars())


async def revoke_user_sessions(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    await session.execute(
        update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
