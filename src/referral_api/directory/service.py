"""Providers and attorneys: writes, their search points, and the radius search."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from referral_api import geo
from referral_api.auth.principals import Principal, ensure_same_org
from referral_api.directory import repository
from referral_api.directory.repository import Kind
from referral_api.directory.schemas import (
    AttorneyCreate,
    AttorneyUpdate,
    ProviderCreate,
    ProviderUpdate,
    SpecialtyAssignment,
)
from referral_api.errors import Conflict, Forbidden, NotFound, ValidationFailed
from referral_api.models import (
    Attorney,
    AttorneySearchPoint,
    Location,
    Organization,
    Provider,
    ProviderSearchPoint,
)
from referral_api.organizations import service as org_service
from referral_api.pagination import decode_cursor, encode_cursor
from referral_api.vocabulary import ANY_SPECIALTY_ID, SPECIALTY_BY_CODE

# Geodesic (WGS84) over spherical great-circle distance stays above this ratio for any
# pair of points (the meridional radius of curvature at the equator over the mean
# radius is 0.99442), so a KNN walk in spherical order may stop once the spheroid
# distances it returned are below this share of the last spherical distance.
MIN_SPHEROID_TO_SPHERE = 0.994


def _now() -> datetime:
    return datetime.now(UTC)


async def _writer_org(session: AsyncSession, principal: Principal, kind: str) -> Organization:
    """The caller's organization, which must be a practice (providers) or law firm
    (attorneys) and hold directory:write."""
    if principal.organization_id is None:
        raise Forbidden(f"{kind}s are listed by an organization's own credentials")
    if not (principal.has("directory:write") or principal.has("org:admin")):
        raise Forbidden("this action needs the scope directory:write")
    org = await session.get(Organization, principal.organization_id)
    if org is None:
        raise Forbidden("the caller's organization no longer exists")
    wanted = "practice" if kind == "provider" else "law_firm"
    if org.kind != wanted:
        raise Forbidden(f"only a {wanted.replace('_', ' ')} organization lists {kind}s")
    return org


async def _own_locations(
    session: AsyncSession, organization_id: uuid.UUID, ids: list[uuid.UUID]
) -> list[Location]:
    found = await org_service.locations_of_org(session, organization_id=organization_id, ids=ids)
    by_id = {loc.id: loc for loc in found}
    missing = [str(i) for i in ids if i not in by_id]
    if missing:
        raise ValidationFailed(
            f"unknown location id(s) {', '.join(missing)} for this organization",
            errors=[("/body/location_ids", "unknown location of this organization")],
        )
    return [by_id[i] for i in ids]


def _specialty_docs(items: list[SpecialtyAssignment]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        spec = SPECIALTY_BY_CODE[item.code]
        out.append({"code": spec.code, "slug": spec.slug, "display": spec.display,
                    "primary": item.primary})
    return out


def _lower_all(values: list[str]) -> list[str]:
    return sorted({v.lower() for v in values})


async def _write_provider_points(
    session: AsyncSession, provider: Provider, locations: list[Location]
) -> None:
    await session.execute(
        delete(ProviderSearchPoint).where(ProviderSearchPoint.provider_id == provider.id)
    )
    if not provider.active:
        return
    specialty_ids = [ANY_SPECIALTY_ID] + [
        SPECIALTY_BY_CODE[c].id for c in provider.specialty_codes
    ]
    common = {
        "provider_id": provider.id,
        "n_locations": len(locations),
        "insurance": list(provider.insurance_accepted),
        "languages": _lower_all(provider.languages),
        "conditions": _lower_all(provider.conditions_treated),
        "full_name": f"{provider.first_name} {provider.last_name}".lower(),
        "accepting_referrals": provider.accepting_referrals,
        "accepting_new_patients": provider.accepting_new_patients,
        "accepts_lop": provider.accepts_lop,
        "telehealth": provider.telehealth,
    }
    rows = [
        {**common, "location_id": loc.id, "specialty_id": sid,
         "geog": org_service.point_wkt(loc.lat, loc.lon)}
        for loc in locations
        for sid in specialty_ids
    ]
    await session.execute(insert(ProviderSearchPoint), rows)


async def _write_attorney_points(
    session: AsyncSession, attorney: Attorney, locations: list[Location]
) -> None:
    await session.execute(
        delete(AttorneySearchPoint).where(AttorneySearchPoint.attorney_id == attorney.id)
    )
    if not attorney.active:
        return
    rows = [
        {
            "attorney_id": attorney.id,
            "location_id": loc.id,
            "geog": org_service.point_wkt(loc.lat, loc.lon),
            "n_locations": len(locations),
            "practice_areas": list(attorney.practice_areas),
            "languages": _lower_all(attorney.languages),
            "full_name": f"{attorney.first_name} {attorney.last_name}".lower(),
            "accepting_clients": attorney.accepting_clients,
            "accepts_lop_cases": attorney.accepts_lop_cases,
        }
        for loc in locations
    ]
    await session.execute(insert(AttorneySearchPoint), rows)


async def refresh_points_for_location(session: AsyncSession, *, location_id: uuid.UUID) -> None:
    """A location moved: rewrite the search points of everyone listed there."""
    providers = (
        await session.execute(select(Provider).where(Provider.location_ids.contains([location_id])))
    ).scalars().all()
    for provider in providers:
        locations = await _own_locations(
            session, provider.organization_id, list(provider.location_ids)
        )
        await _write_provider_points(session, provider, locations)
    attorneys = (
        await session.execute(select(Attorney).where(Attorney.location_ids.contains([location_id])))
    ).scalars().all()
    for attorney in attorneys:
        locations = await _own_locations(
            session, attorney.organization_id, list(attorney.location_ids)
        )
        await _write_attorney_points(session, attorney, locations)


# -- providers ---------------------------------------------------------------------------


async def _npi_taken(session: AsyncSession, npi: str, exclude: uuid.UUID | None = None) -> bool:
    stmt = select(func.count()).select_from(Provider).where(Provider.npi == npi)
    if exclude is not None:
        stmt = stmt.where(Provider.id != exclude)
    return bool((await session.execute(stmt)).scalar_one())


async def create_provider(
    session: AsyncSession, principal: Principal, *, data: ProviderCreate
) -> Provider:
    org = await _writer_org(session, principal, "provider")
    locations = await _own_locations(session, org.id, data.location_ids)
    if await _npi_taken(session, data.npi):
        raise Conflict(f"a provider with NPI {data.npi} is already listed")
    provider = Provider(
        id=uuid.uuid4(), organization_id=org.id, npi=data.npi,
        first_name=data.first_name, last_name=data.last_name,
        credentials=data.credentials, specialties=_specialty_docs(data.specialties),
        specialty_codes=[s.code for s in data.specialties],
        location_ids=[loc.id for loc in locations],
        conditions_treated=data.conditions_treated, services=data.services,
        insurance_accepted=data.insurance_accepted, languages=data.languages,
        accepting_referrals=data.accepting_referrals,
        accepting_new_patients=data.accepting_new_patients,
        accepts_lop=data.accepts_lop, telehealth=data.telehealth,
        profile_status="listed", active=True, version=1,
    )
    session.add(provider)
    await session.flush()
    await _write_provider_points(session, provider, locations)
    return provider


async def get_provider_for_write(
    session: AsyncSession, principal: Principal, *, provider_id: uuid.UUID
) -> Provider:
    provider = (
        await session.execute(
            select(Provider).where(Provider.id == provider_id, Provider.active).with_for_update()
        )
    ).scalar_one_or_none()
    if provider is None:
        raise NotFound("provider not found")
    ensure_same_org(principal, provider.organization_id, what="provider")
    if not (principal.has("directory:write") or principal.has("org:admin")):
        raise Forbidden("this action needs the scope directory:write")
    return provider


_SIMPLE_PROVIDER_FIELDS = (
    "npi", "first_name", "last_name", "credentials", "conditions_treated", "services",
    "insurance_accepted", "languages", "accepting_referrals", "accepting_new_patients",
    "accepts_lop", "telehealth",
)


def _reject_nulls(fields: dict[str, Any]) -> None:
    nulls = [k for k, v in fields.items() if v is None]
    if nulls:
        raise ValidationFailed(
            "these fields cannot be null: " + ", ".join(nulls),
            errors=[(f"/body/{k}", "cannot be null") for k in nulls],
        )


async def update_provider(
    session: AsyncSession, principal: Principal, *, provider: Provider, data: ProviderUpdate
) -> Provider:
    fields = data.model_dump(exclude_unset=True)
    _reject_nulls(fields)
    if "npi" in fields and data.npi != provider.npi and await _npi_taken(
        session, fields["npi"], exclude=provider.id
    ):
        raise Conflict(f"a provider with NPI {data.npi} is already listed")
    for name in _SIMPLE_PROVIDER_FIELDS:
        if name in fields:
            setattr(provider, name, getattr(data, name))
    if data.specialties is not None:
        provider.specialties = _specialty_docs(data.specialties)
        provider.specialty_codes = [s.code for s in data.specialties]
    ids = data.location_ids if data.location_ids is not None else list(provider.location_ids)
    locations = await _own_locations(session, provider.organization_id, ids)
    provider.location_ids = [loc.id for loc in locations]
    provider.version += 1
    provider.updated_at = _now()
    await session.flush()
    await _write_provider_points(session, provider, locations)
    return provider


async def deactivate_provider(session: AsyncSession, *, provider: Provider) -> None:
    provider.active = False
    provider.deleted_at = provider.updated_at = _now()
    provider.version += 1
    await session.flush()
    await _write_provider_points(session, provider, [])


# -- attorneys ---------------------------------------------------------------------------


async def _bar_taken(session: AsyncSession, state: str, number: str,
                     exclude: uuid.UUID | None = None) -> bool:
    stmt = select(func.count()).select_from(Attorney).where(
        Attorney.bar_state == state, Attorney.bar_number == number
    )
    if exclude is not None:
        stmt = stmt.where(Attorney.id != exclude)
    return bool((await session.execute(stmt)).scalar_one())


async def create_attorney(
    session: AsyncSession, principal: Principal, *, data: AttorneyCreate
) -> Attorney:
    org = await _writer_org(session, principal, "attorney")
    locations = await _own_locations(session, org.id, data.location_ids)
    if await _bar_taken(session, data.bar_state, data.bar_number):
        raise Conflict(f"bar number {data.bar_state} {data.bar_number} is already listed")
    attorney = Attorney(
        id=uuid.uuid4(), organization_id=org.id, first_name=data.first_name,
        last_name=data.last_name, bar_number=data.bar_number, bar_state=data.bar_state,
        practice_areas=list(data.practice_areas), location_ids=[loc.id for loc in locations],
        languages=data.languages, accepting_clients=data.accepting_clients,
        accepts_lop_cases=data.accepts_lop_cases, active=True, version=1,
    )
    session.add(attorney)
    await session.flush()
    await _write_attorney_points(session, attorney, locations)
    return attorney


async def get_attorney_for_write(
    session: AsyncSession, principal: Principal, *, attorney_id: uuid.UUID
) -> Attorney:
    attorney = (
        await session.execute(
            select(Attorney).where(Attorney.id == attorney_id, Attorney.active).with_for_update()
        )
    ).scalar_one_or_none()
    if attorney is None:
        raise NotFound("attorney not found")
    ensure_same_org(principal, attorney.organization_id, what="attorney")
    if not (principal.has("directory:write") or principal.has("org:admin")):
        raise Forbidden("this action needs the scope directory:write")
    return attorney


_SIMPLE_ATTORNEY_FIELDS = (
    "first_name", "last_name", "bar_number", "bar_state", "practice_areas", "languages",
    "accepting_clients", "accepts_lop_cases",
)


async def update_attorney(
    session: AsyncSession, principal: Principal, *, attorney: Attorney, data: AttorneyUpdate
) -> Attorney:
    fields = data.model_dump(exclude_unset=True)
    _reject_nulls(fields)
    state = fields.get("bar_state", attorney.bar_state)
    number = fields.get("bar_number", attorney.bar_number)
    if (state, number) != (attorney.bar_state, attorney.bar_number) and await _bar_taken(
        session, state, number, exclude=attorney.id
    ):
        raise Conflict(f"bar number {state} {number} is already listed")
    for name in _SIMPLE_ATTORNEY_FIELDS:
        if name in fields:
            setattr(attorney, name, getattr(data, name))
    ids = data.location_ids if data.location_ids is not None else list(attorney.location_ids)
    locations = await _own_locations(session, attorney.organization_id, ids)
    attorney.location_ids = [loc.id for loc in locations]
    attorney.version += 1
    attorney.updated_at = _now()
    await session.flush()
    await _write_attorney_points(session, attorney, locations)
    return attorney


async def deactivate_attorney(session: AsyncSession, *, attorney: Attorney) -> None:
    attorney.active = False
    attorney.deleted_at = attorney.updated_at = _now()
    attorney.version += 1
    await session.flush()
    await _write_attorney_points(session, attorney, [])


async def public_document(session: AsyncSession, kind: Kind, object_id: uuid.UUID
                          ) -> tuple[str, int]:
    """The document and version of an active provider or attorney; deactivated is gone."""
    found = await repository.document(session, kind, object_id, active_only=True)
    if found is None:
        raise NotFound(f"{kind.name} not found")
    return found


# -- search ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float
    radius_m: float
    unit: str


@dataclass(frozen=True)
class SearchPage:
    items: list[str]  # JSON documents, in order
    next_cursor: str | None

    def to_json(self) -> bytes:
        cursor = json.dumps(self.next_cursor)
        return f'{{"items":[{",".join(self.items)}],"next_cursor":{cursor}}}'.encode()


async def search(
    engine: AsyncEngine,
    kind: Kind,
    *,
    point: Point | None,
    filters: dict[str, Any],
    specialty_id: int | None,
    limit: int,
    cursor: str | None,
    fingerprint: str,
) -> SearchPage:
    """Directory search. With a point: matches within the radius by true distance, then
    id. Without: by last name, first name, id. Keyset cursors in both cases."""
    present = frozenset(k for k, v in filters.items() if v is not None)
    params: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
    if point is None:
        return await _search_by_name(engine, kind, present, params, limit, cursor, fingerprint)
    params |= {"lat": point.lat, "lon": point.lon, "radius": point.radius_m,
               "unit_m": geo.METERS_PER_UNIT[point.unit], "unit": point.unit}
    if kind.has_specialty_column:
        params["specialty_id"] = specialty_id if specialty_id is not None else ANY_SPECIALTY_ID
    present = present - {"specialty"}
    params.pop("specialty", None)  # the index column specialty_id stands for it
    after = cursor is not None
    if after:
        distance, last_id = decode_cursor(cursor or "", fingerprint, 2)
        if not isinstance(distance, int | float) or isinstance(distance, bool):
            raise ValidationFailed("cursor is not valid",
                                   errors=[("/query/cursor", "malformed cursor")])
        params["after_distance"] = float(distance)
        params["after_id"] = _uuid_or_422(last_id)
    want = limit + 1
    n = 2 * want
    params["n"] = n
    params["want"] = want  # rows past the first `want` by (dist, id) come without a doc
    rows = await repository.run(
        engine, repository.radius_search_sql(kind, present, after, False), params
    )
    # Canonical UUID strings order exactly as PostgreSQL orders the uuids.
    rows.sort(key=lambda r: (r["dist"], str(r["id"])))
    if len(rows) == n:
        settled_below = max(r["sph"] for r in rows) * MIN_SPHEROID_TO_SPHERE
        settled = [r for r in rows if r["dist"] < settled_below]
        if len(settled) >= want:
            rows = settled
        else:  # rare: walk every match in exact order instead
            params["n"] = want
            rows = await repository.run(
                engine, repository.radius_search_sql(kind, present, after, True), params
            )
    page = rows[:want]
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (
        encode_cursor([page[-1]["dist"], str(page[-1]["id"])], fingerprint)
        if more and page else None
    )
    return SearchPage([r["doc"] for r in page], next_cursor)


def _uuid_or_422(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed(
            "cursor is not valid", errors=[("/query/cursor", "malformed cursor")]
        ) from None


async def _search_by_name(
    engine: AsyncEngine, kind: Kind, present: frozenset[str], params: dict[str, Any],
    limit: int, cursor: str | None, fingerprint: str,
) -> SearchPage:
    if cursor is not None:
        last, first, last_id = decode_cursor(cursor, fingerprint, 3)
        if not (isinstance(last, str) and isinstance(first, str)):
            raise ValidationFailed("cursor is not valid",
                                   errors=[("/query/cursor", "malformed cursor")])
        params |= {"after_last": last, "after_first": first, "after_id": _uuid_or_422(last_id)}
    params["n"] = limit + 1
    rows = await repository.run(
        engine, repository.name_search_sql(kind, present, cursor is not None), params
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor([rows[-1]["last_name"], rows[-1]["first_name"], str(rows[-1]["id"])],
                      fingerprint)
        if more else None
    )
    return SearchPage([r["doc"] for r in rows], next_cursor)


