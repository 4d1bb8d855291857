"""Who is calling: API keys (``rk_...``) today, user tokens from /v1/auth/token later."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.db import get_session
from referral_api.errors import Forbidden, NotFound, Unauthorized
from referral_api.models import ApiKey

API_KEY_PREFIX = "rk_"
ACCESS_TOKEN_PREFIX = "rat_"
REFRESH_TOKEN_PREFIX = "rrt_"
PLATFORM_ADMIN = "platform:admin"
ORG_SCOPES: tuple[str, ...] = (
    "directory:read",
    "directory:write",
    "referrals:read",
    "referrals:write",
    "lop:read",
    "lop:write",
    "metrics:read",
    "org:admin",
    "webhooks:manage",
)
ALL_SCOPES = (*ORG_SCOPES, PLATFORM_ADMIN)

bearer = HTTPBearer(auto_error=False, description="An API key (rk_...) or a user access token")


@dataclass(frozen=True)
class Principal:
    kind: str  # "api_key" | "user"
    id: uuid.UUID
    organization_id: uuid.UUID | None
    scopes: frozenset[str]
    role: str | None = None  # members only
    session_family: uuid.UUID | None = None  # members: the login session, for logout

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.scopes

    @property
    def key(self) -> str:
        """Stable identity used to scope idempotency keys and audit entries."""
        return f"{self.kind}:{self.id}"

    def has(self, scope: str) -> bool:
        return scope in self.scopes


def new_api_key() -> tuple[str, str, str]:
    """Return (key, display prefix, sha256 hex) for a fresh 256-bit key."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:10], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def _principal_from_token(session: AsyncSession, token: str) -> Principal:
    if len(token) > 200:
        raise Unauthorized()
    if token.startswith(ACCESS_TOKEN_PREFIX):
        from referral_api.auth import tokens

        return await tokens.principal_for_access_token(session, token)
    if not token.startswith(API_KEY_PREFIX):
        raise Unauthorized()
    row = (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == hash_api_key(token)))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        raise Unauthorized()
    return Principal("api_key", row.id, row.organization_id, frozenset(row.scopes))


async def optional_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    session: AsyncSession = Depends(get_session),
) -> Principal | None:
    if credentials is None:
        if request.headers.get("authorization"):
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return None
    principal = await _principal_from_token(session, credentials.credentials)
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Principal | None = Depends(optional_principal),
) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


def require_scope(*scopes: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the caller must hold one of `scopes` (platform admins excepted
    only where `platform:admin` is listed)."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if not any(principal.has(s) for s in scopes):
            raise Forbidden(f"this action needs the scope {' or '.join(scopes)}")
        return principal

    return dependency


def ensure_same_org(principal: Principal, organization_id: uuid.UUID, *,
                    platform_ok: bool = False, what: str = "object") -> None:
    """Another organization's object is a 404 that looks exactly like a missing id."""
    if platform_ok and principal.is_platform_admin:
        return
    if principal.organization_id != organization_id:
        raise NotFound(f"{what} not found")


def utcnow() -> datetime:
    return datetime.now(UTC)
