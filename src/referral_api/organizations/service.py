"""Organizations, their locations and API keys. Services flush, never commit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from geoalchemy2 import WKTElement
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api import geo
from referral_api.auth.principals import Principal, ensure_same_org, new_api_key
from referral_api.errors import Forbidden, NotFound, ValidationFailed
from referral_api.models import ApiKey, Location, Organization
from referral_api.organizations.schemas import (
    ApiKeyCreate,
    LocationCreate,
    LocationUpdate,
    LopPolicy,
    OrganizationCreate,
    OrganizationUpdate,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _apply_lop_policy(org: Organization, policy: LopPolicy) -> None:
    org.lop_accepts = policy.accepts_lop
    org.lop_max_outstanding_cents = policy.max_outstanding_cents
    org.lop_policy_text = policy.policy_text


async def create_organization(
    session: AsyncSession, principal: Principal, *, data: OrganizationCreate
) -> Organization:
    if not principal.is_platform_admin:
        raise Forbidden("only the platform operator creates organizations")
    org = Organization(
        id=uuid.uuid4(), name=data.name, kind=data.kind.value, npi=data.npi, phone=data.phone,
        website=data.website,
    )
    _apply_lop_policy(org, data.lop_policy or LopPolicy())
    session.add(org)
    await session.flush()
    return org


async def get_organization(
    session: AsyncSession, principal: Principal, *, organization_id: uuid.UUID,
    for_update: bool = False,
) -> Organization:
    ensure_same_org(principal, organization_id, platform_ok=True, what="organization")
    stmt = select(Organization).where(Organization.id == organization_id)
    if for_update:
        stmt = stmt.with_for_update()
    org = (await session.execute(stmt)).scalar_one_or_none()
    if org is None:
        raise NotFound("organization not found")
    return org


async def list_organizations(
    session: AsyncSession, principal: Principal, *, limit: int, after: uuid.UUID | None
) -> list[Organization]:
    stmt = select(Organization).order_by(Organization.id).limit(limit + 1)
    if not principal.is_platform_admin:
        stmt = stmt.where(Organization.id == principal.organization_id)
    if after is not None:
        stmt = stmt.where(Organization.id > after)
    return list((await session.execute(stmt)).scalars())


def require_org_admin(principal: Principal, organization_id: uuid.UUID) -> None:
    ensure_same_org(principal, organization_id, platform_ok=True, what="organization")
    if not (principal.is_platform_admin or principal.has("org:admin")):
        raise Forbidden("this action needs the scope org:admin")


async def update_organization(
    session: AsyncSession, principal: Principal, *, org: Organization, data: OrganizationUpdate
) -> Organization:
    require_org_admin(principal, org.id)
    fields = data.model_dump(exclude_unset=True)
    for name in ("name", "npi", "phone", "website"):
        if name in fields:
            if name == "name" and fields[name] is None:
                raise ValidationFailed("name cannot be null", errors=[("/body/name", "required")])
            setattr(org, name, fields[name])
    if "lop_policy" in fields:
        if data.lop_policy is None:
            raise ValidationFailed("lop_policy cannot be null",
                                   errors=[("/body/lop_policy", "must be an object")])
        _apply_lop_policy(org, data.lop_policy)
    org.version += 1
    await session.flush()
    return org


# -- locations ---------------------------------------------------------------------------


def _geocode(lat: float | None, lon: float | None, postal_code: str) -> tuple[float, float, str]:
    if lat is not None and lon is not None:
        return lat, lon, "exact"
    centroid = geo.zip_centroid(postal_code)
    if centroid is None:
        raise ValidationFailed(
            f"unknown ZIP code {postal_code}; give lat and lon",
            errors=[("/body/address/postal_code", "unknown ZIP code")],
        )
    return centroid.lat, centroid.lon, "postal_code"


def point_wkt(lat: float, lon: float) -> WKTElement:
    return WKTElement(f"POINT({lon!r} {lat!r})", srid=4326)


def require_directory_writer(principal: Principal, organization_id: uuid.UUID) -> None:
    ensure_same_org(principal, organization_id, platform_ok=True, what="organization")
    if not (principal.is_platform_admin or principal.has("directory:write")
            or principal.has("org:admin")):
        raise Forbidden("this action needs the scope directory:write")


async def create_location(
    session: AsyncSession, principal: Principal, *, organization_id: uuid.UUID,
    data: LocationCreate,
) -> Location:
    await get_organization(session, principal, organization_id=organization_id)
    require_directory_writer(principal, organization_id)
    lat, lon, precision = _geocode(data.lat, data.lon, data.address.postal_code)
    location = Location(
        id=uuid.uuid4(), organization_id=organization_id, name=data.name,
        line1=data.address.line1, line2=data.address.line2, city=data.address.city,
        state=data.address.state, postal_code=data.address.postal_code, phone=data.phone,
        lat=lat, lon=lon, geog=point_wkt(lat, lon), geocode_precision=precision,
    )
    session.add(location)
    await session.flush()
    return location


async def list_locations(
    session: AsyncSession, principal: Principal, *, organization_id: uuid.UUID, limit: int,
    after: uuid.UUID | None,
) -> list[Location]:
    await get_organization(session, principal, organization_id=organization_id)
    stmt = (
        select(Location).where(Location.organization_id == organization_id)
        .order_by(Location.id).limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(Location.id > after)
    return list((await session.execute(stmt)).scalars())


async def get_location(
    session: AsyncSession, principal: Principal, *, organization_id: uuid.UUID,
    location_id: uuid.UUID, for_update: bool = False,
) -> Location:
    ensure_same_org(principal, organization_id, platform_ok=True, what="location")
    stmt = select(Location).where(
        Location.id == location_id, Location.organization_id == organization_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    location = (await session.execute(stmt)).scalar_one_or_none()
    if location is None:
        raise NotFound("location not found")
    return location


async def update_location(
    session: AsyncSession, principal: Principal, *, location: Location, data: LocationUpdate
) -> Location:
    require_directory_writer(principal, location.organization_id)
    fields = data.model_dump(exclude_unset=True)
    if "name" in fields and data.name is not None:
        location.name = data.name
    if "phone" in fields:
        location.phone = data.phone
    moved = False
    if data.address is not None:
        a = data.address
        location.line1, location.line2, location.city = a.line1, a.line2, a.city
        location.state, location.postal_code = a.state, a.postal_code
        moved = True
    if data.lat is not None or data.address is not None:
        lat, lon, precision = _geocode(data.lat, data.lon, location.postal_code)
        location.lat, location.lon, location.geocode_precision = lat, lon, precision
        location.geog = point_wkt(lat, lon)  # type: ignore[assignment]
        moved = True
    location.version += 1
    await session.flush()
    if moved:
        # Imported here: the directory depends on organizations, not the other way round.
        from referral_api.directory import service as directory_service

        await directory_service.refresh_points_for_location(session, location_id=location.id)
    return location


async def locations_of_org(
    session: AsyncSession, *, organization_id: uuid.UUID, ids: list[uuid.UUID]
) -> list[Location]:
    if not ids:
        return []
    rows = (
        await session.execute(
            select(Location).where(Location.id.in_(ids),
                                   Location.organization_id == organization_id)
        )
    ).scalars()
    return list(rows)


# -- API keys ----------------------------------------------------------------------------


async def create_api_key(
    session: AsyncSession, principal: Principal, *, organization_id: uuid.UUID,
    data: ApiKeyCreate,
) -> tuple[ApiKey, str]:
    await get_organization(session, principal, organization_id=organization_id)
    require_org_admin(principal, organization_id)
    key, prefix, key_hash = new_api_key()
    row = ApiKey(
        id=uuid.uuid4(), organization_id=organization_id, name=data.name, prefix=prefix,
        key_hash=key_hash, scopes=sorted({s.value for s in data.scopes}), created_at=_now(),
    )
    session.add(row)
    await session.flush()
    return row, key


async def create_platform_key(session: AsyncSession, *, name: str) -> tuple[ApiKey, str]:
    key, prefix, key_hash = new_api_key()
    row = ApiKey(
        id=uuid.uuid4(), organization_id=None, name=name, prefix=prefix, key_hash=key_hash,
        scopes=["platform:admin"], created_at=_now(),
    )
    session.add(row)
    await session.flush()
    return row, key


async def list_api_keys(
    session: AsyncSession, principal: Principal, *, organization_id: uuid.UUID, limit: int,
    after: uuid.UUID | None,
) -> list[ApiKey]:
    await get_organization(session, principal, organization_id=organization_id)
    require_org_admin(principal, organization_id)
    stmt = (
        select(ApiKey).where(ApiKey.organization_id == organization_id)
        .order_by(ApiKey.id).limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(ApiKey.id > after)
    return list((await session.execute(stmt)).scalars())


async def revoke_api_key(
    session: AsyncSession, principal: Principal, *, api_key_id: uuid.UUID
) -> None:
    row = (
        await session.execute(select(ApiKey).where(ApiKey.id == api_key_id).with_for_update())
    ).scalar_one_or_none()
    if row is None or (
        not principal.is_platform_admin and row.organization_id != principal.organization_id
    ):
        raise NotFound("API key not found")
    if not (principal.is_platform_admin or principal.has("org:admin")):
        raise Forbidden("this action needs the scope org:admin")
    if row.revoked_at is None:
        row.revoked_at = _now()
        await session.flush()
