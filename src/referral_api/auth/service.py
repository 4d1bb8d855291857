"""Members (users) of organizations, password login with throttling, sessions."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral_api.auth import tokens
from referral_api.auth.passwords import (
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
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


async def _count_attempt(request: Request, username: str) -> None:
    """Count this login attempt before the password is checked, in a transaction of its
    own that commits at once: concurrent guesses queue on the row lock and each sees the
    count of those before it, so no more than MAX_FAILURES passwords are tried per
    window. 429 while the username is locked."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    now = _now()
    async with maker() as s, s.begin():
        await s.execute(
            insert(LoginThrottle)
            .values(username=username, failures=0, window_started_at=now)
            .on_conflict_do_nothing(index_elements=["username"])
        )
        row = (await s.execute(
            select(LoginThrottle).where(LoginThrottle.username == username).with_for_update()
        )).scalar_one()
        if row.locked_until is not None and row.locked_until > now:
            retry = max(1, math.ceil((row.locked_until - now).total_seconds()))
            raise TooManyRequests(
                "too many failed logins for this account; try again later",
                headers={"Retry-After": str(retry)},
            )
        if row.locked_until is not None or row.window_started_at < now - WINDOW:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= MAX_FAILURES:
            # This attempt is still checked; if it fails, the next ones are refused.
            row.locked_until = now + LOCKOUT


async def password_login(request: Request, session: AsyncSession, *, username: str,
                         password: str) -> tokens.TokenPair:
    key = username.strip().lower()
    await _count_attempt(request, key)
    user = (
        await session.execute(select(User).where(User.email_lower == key))
    ).scalar_one_or_none()
    ok = await verify_password_async(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise Unauthorized("invalid username or password")
    # Success clears the count (and a lock set by this very attempt).
    await session.execute(delete(LoginThrottle).where(LoginThrottle.username == key))
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
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
                password_hash=await hash_password_async(password), active=True, version=1)
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
