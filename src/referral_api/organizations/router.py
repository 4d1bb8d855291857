from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.auth.principals import Principal, current_principal
from referral_api.db import get_session
from referral_api.errors import error_responses
from referral_api.http import check_if_match, make_router, set_etag
from referral_api.idempotency import idempotency
from referral_api.models import ApiKey, Location, Organization
from referral_api.organizations import service
from referral_api.organizations.schemas import (
    AddressRead,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LocationCreate,
    LocationRead,
    LocationUpdate,
    LopPolicy,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
)
from referral_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, id_cursor, id_page

router = make_router("/v1", "organizations")

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 100)")]
Cursor = Annotated[
    str | None, Query(max_length=2000, description="next_cursor of the previous page")
]
AUTH_ERRORS = (401, 403, 404, 422)


def organization_read(org: Organization) -> OrganizationRead:
    return OrganizationRead(
        id=org.id, name=org.name, kind=org.kind,  # type: ignore[arg-type]
        npi=org.npi, phone=org.phone, website=org.website,
        lop_policy=LopPolicy(
            accepts_lop=org.lop_accepts, max_outstanding_cents=org.lop_max_outstanding_cents,
            policy_text=org.lop_policy_text,
        ),
        version=org.version, created_at=org.created_at, updated_at=org.updated_at,
    )


def location_read(loc: Location) -> LocationRead:
    return LocationRead(
        id=loc.id, organization_id=loc.organization_id, name=loc.name,
        address=AddressRead(line1=loc.line1, line2=loc.line2, city=loc.city, state=loc.state,
                            postal_code=loc.postal_code),
        lat=loc.lat, lon=loc.lon, phone=loc.phone,
        geocode_precision=loc.geocode_precision,  # type: ignore[arg-type]
        version=loc.version, created_at=loc.created_at, updated_at=loc.updated_at,
    )


def api_key_read(row: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=row.id, organization_id=row.organization_id, name=row.name, prefix=row.prefix,
        scopes=list(row.scopes), created_at=row.created_at, revoked_at=row.revoked_at,
    )


@router.post(
    "/organizations", status_code=status.HTTP_201_CREATED, operation_id="organizations-create",
    dependencies=[Depends(idempotency)], responses=error_responses(401, 403, 409, 413, 422),
)
async def create_organization(
    data: OrganizationCreate, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> OrganizationRead:
    """Create an organization (platform operator only)."""
    org = await service.create_organization(session, principal, data=data)
    set_etag(response, org.version)
    response.headers["Location"] = f"/v1/organizations/{org.id}"
    return organization_read(org)


@router.get(
    "/organizations", operation_id="organizations-list", responses=error_responses(401, 422)
)
async def list_organizations(
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Page[OrganizationRead]:
    """List organizations the caller may see (all for the platform operator, else its own)."""
    rows = await service.list_organizations(
        session, principal, limit=limit, after=id_cursor(cursor, "orgs")
    )
    return id_page([organization_read(o) for o in rows], [o.id for o in rows], limit, "orgs")


@router.get(
    "/organizations/{organization_id}", operation_id="organizations-get",
    responses=error_responses(*AUTH_ERRORS),
)
async def get_organization(
    organization_id: uuid.UUID, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> OrganizationRead:
    """Get one organization."""
    org = await service.get_organization(session, principal, organization_id=organization_id)
    set_etag(response, org.version)
    return organization_read(org)


@router.patch(
    "/organizations/{organization_id}", operation_id="organizations-update",
    responses=error_responses(*AUTH_ERRORS, 409, 412, 413),
)
async def update_organization(
    organization_id: uuid.UUID, data: OrganizationUpdate, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> OrganizationRead:
    """Update an organization's profile or LOP policy (its admins or the platform operator)."""
    org = await service.get_organization(
        session, principal, organization_id=organization_id, for_update=True
    )
    service.require_org_admin(principal, org.id)
    check_if_match(request, org.version)
    org = await service.update_organization(session, principal, org=org, data=data)
    set_etag(response, org.version)
    return organization_read(org)


@router.post(
    "/organizations/{organization_id}/locations", status_code=status.HTTP_201_CREATED,
    operation_id="locations-create", dependencies=[Depends(idempotency)],
    responses=error_responses(*AUTH_ERRORS, 409, 413),
)
async def create_location(
    organization_id: uuid.UUID, data: LocationCreate, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> LocationRead:
    """Add a location; without lat/lon the ZIP centroid is used."""
    loc = await service.create_location(
        session, principal, organization_id=organization_id, data=data
    )
    set_etag(response, loc.version)
    response.headers["Location"] = f"/v1/organizations/{organization_id}/locations/{loc.id}"
    return location_read(loc)


@router.get(
    "/organizations/{organization_id}/locations", operation_id="locations-list",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_locations(
    organization_id: uuid.UUID, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Page[LocationRead]:
    """List an organization's locations."""
    fp = f"locations:{organization_id}"
    rows = await service.list_locations(
        session, principal, organization_id=organization_id, limit=limit,
        after=id_cursor(cursor, fp),
    )
    return id_page([location_read(r) for r in rows], [r.id for r in rows], limit, fp)


@router.get(
    "/organizations/{organization_id}/locations/{location_id}", operation_id="locations-get",
    responses=error_responses(*AUTH_ERRORS),
)
async def get_location(
    organization_id: uuid.UUID, location_id: uuid.UUID, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> LocationRead:
    """Get one location."""
    loc = await service.get_location(
        session, principal, organization_id=organization_id, location_id=location_id
    )
    set_etag(response, loc.version)
    return location_read(loc)


@router.patch(
    "/organizations/{organization_id}/locations/{location_id}", operation_id="locations-update",
    responses=error_responses(*AUTH_ERRORS, 409, 412, 413),
)
async def update_location(
    organization_id: uuid.UUID, location_id: uuid.UUID, data: LocationUpdate,
    request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> LocationRead:
    """Update a location; a new address or point moves it in directory search."""
    loc = await service.get_location(
        session, principal, organization_id=organization_id, location_id=location_id,
        for_update=True,
    )
    service.require_directory_writer(principal, organization_id)
    check_if_match(request, loc.version)
    loc = await service.update_location(session, principal, location=loc, data=data)
    set_etag(response, loc.version)
    return location_read(loc)


@router.post(
    "/organizations/{organization_id}/api-keys", status_code=status.HTTP_201_CREATED,
    operation_id="api-keys-create", dependencies=[Depends(idempotency)],
    responses=error_responses(*AUTH_ERRORS, 409, 413),
)
async def create_api_key(
    organization_id: uuid.UUID, data: ApiKeyCreate, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ApiKeyCreated:
    """Create an API key; the secret is returned once and stored only as a hash."""
    row, key = await service.create_api_key(
        session, principal, organization_id=organization_id, data=data
    )
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**api_key_read(row).model_dump(), api_key=key)


@router.get(
    "/organizations/{organization_id}/api-keys", operation_id="api-keys-list",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_api_keys(
    organization_id: uuid.UUID, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Page[ApiKeyRead]:
    """List an organization's API keys (never their secrets)."""
    fp = f"keys:{organization_id}"
    rows = await service.list_api_keys(
        session, principal, organization_id=organization_id, limit=limit,
        after=id_cursor(cursor, fp),
    )
    return id_page([api_key_read(r) for r in rows], [r.id for r in rows], limit, fp)


@router.delete(
    "/api-keys/{api_key_id}", status_code=status.HTTP_204_NO_CONTENT,
    operation_id="api-keys-revoke", responses=error_responses(*AUTH_ERRORS),
)
async def revoke_api_key(
    api_key_id: uuid.UUID,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Revoke an API key; it stops working at once."""
    await service.revoke_api_key(session, principal, api_key_id=api_key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
