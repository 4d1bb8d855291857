from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Form, Query, Request, Response, status
from pydantic import BaseModel, EmailStr, Field, StrictBool, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.auth import service
from referral_api.auth.passwords import hash_password_async
from referral_api.auth.principals import Principal, current_principal
from referral_api.db import get_session
from referral_api.errors import ValidationFailed, error_responses
from referral_api.http import NO_STORE, check_if_match, make_router, set_etag
from referral_api.idempotency import idempotency
from referral_api.models import Organization, User
from referral_api.organizations import service as org_service
from referral_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, id_cursor, id_page
from referral_api.schemas_common import Label, StrictModel

router = make_router("/v1", "auth")


class Role(StrEnum):
    admin = "admin"
    clinician = "clinician"
    staff = "staff"
    billing = "billing"
    viewer = "viewer"


Password = Annotated[str, StringConstraints(min_length=12, max_length=200)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str


class RefreshRequest(StrictModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class MemberCreate(StrictModel):
    email: EmailStr
    name: Label
    role: Role
    password: Password = Field(description="Initial password (12 characters or more)")


class MemberUpdate(StrictModel):
    name: Label | None = None
    role: Role | None = None
    active: StrictBool | None = None
    password: Password | None = None


class MemberRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    name: str
    role: Role
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class MeRead(BaseModel):
    principal_type: str = Field(description='"user" or "api_key"')
    id: uuid.UUID
    organization_id: uuid.UUID | None
    organization_name: str | None
    role: Role | None
    scopes: list[str]
    email: str | None = None
    name: str | None = None


def member_read(user: User) -> MemberRead:
    return MemberRead(id=user.id, organization_id=user.organization_id, email=user.email,
                      name=user.name, role=Role(user.role), active=user.active,
                      version=user.version, created_at=user.created_at,
                      updated_at=user.updated_at)


def _token_response(response: Response, pair: service.tokens.TokenPair) -> TokenResponse:
    response.headers["Cache-Control"] = NO_STORE
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(access_token=pair.access_token, expires_in=pair.expires_in,
                         refresh_token=pair.refresh_token)


@router.post("/auth/token", operation_id="auth-token",
             responses=error_responses(400, 401, 413, 422, 429))
async def token(
    request: Request, response: Response,
    grant_type: Annotated[str, Form(pattern="^(password|refresh_token)$")],
    username: Annotated[str | None, Form(max_length=320)] = None,
    password: Annotated[str | None, Form(max_length=200)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str | None, Form(max_length=500)] = None,
    session: AsyncSession = Depends(get_session),
) -> TokenResponse:
    """OAuth2 token endpoint: the password grant logs a member in, the refresh_token
    grant rotates a session. Repeated failed logins are throttled (429, Retry-After)."""
    if grant_type == "password":
        if not username or password is None:
            raise ValidationFailed("username and password are required",
                                   errors=[("/body/username", "required")])
        pair = await service.password_login(request, session, username=username,
                                            password=password)
    else:
        if not refresh_token:
            raise ValidationFailed("refresh_token is required",
                                   errors=[("/body/refresh_token", "required")])
        pair = await service.refresh(request, session, refresh_token=refresh_token)
    return _token_response(response, pair)


@router.post("/auth/refresh", operation_id="auth-refresh",
             responses=error_responses(401, 413, 422))
async def refresh(
    data: RefreshRequest, request: Request, response: Response,
    session: AsyncSession = Depends(get_session),
) -> TokenResponse:
    """Rotate a session: the refresh token is spent and a new pair returned."""
    pair = await service.refresh(request, session, refresh_token=data.refresh_token)
    return _token_response(response, pair)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT,
             operation_id="auth-logout", responses=error_responses(401))
async def logout(
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """End the caller's session: its access and refresh tokens stop working at once."""
    await service.logout(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", operation_id="auth-me", responses=error_responses(401))
async def me(
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> MeRead:
    """Who the caller is: member or API key, organization, role and scopes."""
    org = (await session.get(Organization, principal.organization_id)
           if principal.organization_id else None)
    user = await session.get(User, principal.id) if principal.kind == "user" else None
    return MeRead(
        principal_type=principal.kind, id=principal.id,
        organization_id=principal.organization_id,
        organization_name=org.name if org else None,
        role=Role(principal.role) if principal.role else None,
        scopes=sorted(principal.scopes),
        email=user.email if user else None, name=user.name if user else None,
    )


# -- members -----------------------------------------------------------------------------


@router.post("/organizations/{organization_id}/members", status_code=status.HTTP_201_CREATED,
             operation_id="members-create", dependencies=[Depends(idempotency)],
             responses=error_responses(401, 403, 404, 409, 413, 422), tags=["organizations"])
async def create_member(
    organization_id: uuid.UUID, data: MemberCreate, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> MemberRead:
    """Add a member with a role (the organization's admins or the platform operator)."""
    await org_service.get_organization(session, principal, organization_id=organization_id)
    org_service.require_org_admin(principal, organization_id)
    user = await service.create_member(
        session, organization_id=organization_id, email=str(data.email), name=data.name,
        role=data.role.value, password=data.password,
    )
    set_etag(response, user.version)
    response.headers["Location"] = f"/v1/organizations/{organization_id}/members/{user.id}"
    return member_read(user)


@router.get("/organizations/{organization_id}/members", operation_id="members-list",
            responses=error_responses(401, 403, 404, 422), tags=["organizations"])
async def list_members(
    organization_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Page[MemberRead]:
    """List an organization's members."""
    await org_service.get_organization(session, principal, organization_id=organization_id)
    org_service.require_org_admin(principal, organization_id)
    fp = f"members:{organization_id}"
    rows = await service.list_members(session, organization_id=organization_id, limit=limit,
                                      after=id_cursor(cursor, fp))
    return id_page([member_read(u) for u in rows], [u.id for u in rows], limit, fp)


@router.patch("/organizations/{organization_id}/members/{user_id}",
              operation_id="members-update", tags=["organizations"],
              responses=error_responses(401, 403, 404, 409, 412, 413, 422))
async def update_member(
    organization_id: uuid.UUID, user_id: uuid.UUID, data: MemberUpdate, request: Request,
    response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> MemberRead:
    """Change a member's role, name, password or active flag; deactivating or a new
    password ends their sessions."""
    await org_service.get_organization(session, principal, organization_id=organization_id)
    org_service.require_org_admin(principal, organization_id)
    user = await service.get_member(session, organization_id=organization_id, user_id=user_id,
                                    for_update=True)
    check_if_match(request, user.version)
    fields = data.model_dump(exclude_unset=True)
    nulls = [k for k, v in fields.items() if v is None]
    if nulls:
        raise ValidationFailed("fields cannot be null",
                               errors=[(f"/body/{k}", "cannot be null") for k in nulls])
    if data.name is not None:
        user.name = data.name
    if data.role is not None:
        user.role = data.role.value
    end_sessions = False
    if data.active is not None:
        end_sessions = user.active and not data.active
        user.active = data.active
    if data.password is not None:
        user.password_hash = await hash_password_async(data.password)
        end_sessions = True
    user.version += 1
    await session.flush()
    if end_sessions:
        await service.revoke_user_sessions(session, user_id=user.id)
    set_etag(response, user.version)
    return member_read(user)


