from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api import geo
from referral_api.auth.principals import Principal, current_principal
from referral_api.db import get_session
from referral_api.directory import service
from referral_api.directory.repository import ATTORNEYS, PROVIDERS, Kind, document
from referral_api.directory.schemas import (
    AttorneyCreate,
    AttorneyRead,
    AttorneySearchResult,
    AttorneyUpdate,
    InsurancePlanItem,
    PracticeArea,
    ProviderCreate,
    ProviderRead,
    ProviderSearchResult,
    ProviderUpdate,
    SpecialtyItem,
)
from referral_api.errors import ValidationFailed, error_responses
from referral_api.http import check_if_match, make_router, set_etag
from referral_api.idempotency import idempotency
from referral_api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, query_fingerprint
from referral_api.vocabulary import INSURANCE_PLANS, INSURANCE_SLUGS, SPECIALTIES, lookup_specialty

router = make_router("/v1", "directory")

JSON = "application/json"
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 100)")]
Cursor = Annotated[
    str | None, Query(max_length=2000, description="next_cursor of the previous page")
]
Lat = Annotated[float | None, Query(ge=-90, le=90, allow_inf_nan=False,
                                     description="Latitude of the search point (with lon)")]
Lon = Annotated[float | None, Query(ge=-180, le=180, allow_inf_nan=False,
                                     description="Longitude of the search point (with lat)")]
Zip = Annotated[str | None, Query(pattern=r"^[0-9]{5}$",
                                  description="5-digit ZIP; its centroid is the search point")]
Radius = Annotated[float | None, Query(gt=0, le=100, allow_inf_nan=False,
                                        description="Search radius in `unit` (default 25)")]
Unit = Annotated[Literal["mi", "km"] | None, Query(description="Unit of radius and distance")]
Term = Annotated[str | None, Query(min_length=1, max_length=100)]
Flag = Annotated[bool | None, Query()]
SEARCH_ERRORS = error_responses(422)


def _doc_response(doc: str, version: int, status_code: int = 200,
                  location: str | None = None) -> Response:
    response = Response(content=doc, media_type=JSON, status_code=status_code)
    set_etag(response, version)
    if location:
        response.headers["Location"] = location
    return response


async def _written(session: AsyncSession, kind: Kind, object_id: uuid.UUID,
                   status_code: int = 200, location: str | None = None) -> Response:
    """The representation of a provider or attorney just written in this transaction."""
    found = await document(session, kind, object_id)
    assert found is not None
    doc, version = found
    return _doc_response(doc, version, status_code, location)


def _point(lat: float | None, lon: float | None, zip_code: str | None, radius: float | None,
           unit: str | None) -> service.Point | None:
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise ValidationFailed(f"lat and lon go together; {missing} is missing",
                               errors=[(f"/query/{missing}", "required with the other")])
    if lat is not None and zip_code is not None:
        raise ValidationFailed("give either lat/lon or zip, not both",
                               errors=[("/query/zip", "cannot be combined with lat/lon")])
    if zip_code is not None:
        centroid = geo.zip_centroid(zip_code)
        if centroid is None:
            raise ValidationFailed(f"unknown ZIP code {zip_code}",
                                   errors=[("/query/zip", "unknown ZIP code")])
        lat, lon = centroid.lat, centroid.lon
    if lat is None or lon is None:
        for name, value in (("radius", radius), ("unit", unit)):
            if value is not None:
                raise ValidationFailed(f"{name} needs a search point (lat/lon or zip)",
                                       errors=[(f"/query/{name}", "needs lat/lon or zip")])
        return None
    unit = unit or "mi"
    return service.Point(lat, lon, (radius or 25.0) * geo.METERS_PER_UNIT[unit], unit)


def _name_patterns(q: str | None) -> list[str] | None:
    if q is None:
        return None
    tokens = q.lower().split()
    if not tokens:
        raise ValidationFailed("q must contain a name", errors=[("/query/q", "empty")])
    escaped = [t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for t in tokens]
    return [f"%{t}%" for t in escaped]


async def _search(
    kind: Kind, request: Request, point: service.Point | None,
    filters: dict[str, Any], specialty_id: int | None, limit: int, cursor: str | None,
) -> Response:
    fingerprint = query_fingerprint(
        {"kind": kind.name, "point": point and [point.lat, point.lon, point.radius_m, point.unit],
         **filters}
    )
    # No session: a search is one read-only statement on a pooled connection.
    page = await service.search(
        request.app.state.engine, kind, point=point, filters=filters,
        specialty_id=specialty_id, limit=limit, cursor=cursor, fingerprint=fingerprint,
    )
    return Response(content=page.to_json(), media_type=JSON)


# -- vocabularies ------------------------------------------------------------------------


@router.get("/specialties", operation_id="specialties-list", responses=error_responses(422))
async def list_specialties() -> Page[SpecialtyItem]:
    """The NUCC taxonomy codes the directory supports."""
    return Page[SpecialtyItem](
        items=[SpecialtyItem(code=s.code, slug=s.slug, display=s.display) for s in SPECIALTIES]
    )


@router.get(
    "/insurance-plans", operation_id="insurance-plans-list", responses=error_responses(422)
)
async def list_insurance_plans() -> Page[InsurancePlanItem]:
    """The accepted-payment vocabulary for `insurance_accepted` and the `insurance` filter."""
    return Page[InsurancePlanItem](
        items=[InsurancePlanItem(slug=slug, display=display) for slug, display in INSURANCE_PLANS]
    )


# -- providers ---------------------------------------------------------------------------


@router.get(
    "/providers", operation_id="providers-search", response_model=Page[ProviderSearchResult],
    responses=SEARCH_ERRORS,
)
async def search_providers(
    request: Request,
    lat: Lat = None, lon: Lon = None, zip: Zip = None, radius: Radius = None, unit: Unit = None,
    specialty: Annotated[str | None, Query(max_length=40,
                                           description="NUCC code or slug")] = None,
    insurance: Annotated[str | None, Query(max_length=40)] = None,
    condition: Term = None, language: Term = None,
    accepting_referrals: Flag = None, accepting_new_patients: Flag = None,
    accepts_lop: Flag = None, telehealth: Flag = None,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> Response:
    """Search the provider directory, by distance from a point or by name. Public."""
    point = _point(lat, lon, zip, radius, unit)
    spec = None
    if specialty is not None:
        spec = lookup_specialty(specialty)
        if spec is None:
            raise ValidationFailed(f"unknown specialty {specialty!r}; see GET /v1/specialties",
                                   errors=[("/query/specialty", "unknown specialty")])
    if insurance is not None:
        insurance = insurance.strip().lower()
        if insurance not in INSURANCE_SLUGS:
            raise ValidationFailed(f"unknown insurance plan {insurance!r}",
                                   errors=[("/query/insurance", "unknown insurance plan")])
    filters = {
        "specialty": spec.code if spec else None,
        "insurance": insurance,
        "condition": condition.strip().lower() if condition else None,
        "language": language.strip().lower() if language else None,
        "accepting_referrals": accepting_referrals,
        "accepting_new_patients": accepting_new_patients,
        "accepts_lop": accepts_lop,
        "telehealth": telehealth,
        "q": _name_patterns(q),
    }
    return await _search(PROVIDERS, request, point, filters,
                         spec.id if spec else None, limit, cursor)


@router.post(
    "/providers", status_code=status.HTTP_201_CREATED, operation_id="providers-create",
    response_model=ProviderRead, dependencies=[Depends(idempotency)],
    responses=error_responses(401, 403, 409, 413, 422),
)
async def create_provider(
    data: ProviderCreate,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """List a provider of the caller's practice (scope directory:write)."""
    provider = await service.create_provider(session, principal, data=data)
    return await _written(session, PROVIDERS, provider.id, 201, f"/v1/providers/{provider.id}")


@router.get(
    "/providers/{provider_id}", operation_id="providers-get", response_model=ProviderRead,
    responses=error_responses(404, 422),
)
async def get_provider(
    provider_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Get one provider. Public."""
    doc, version = await service.public_document(session, PROVIDERS, provider_id)
    return _doc_response(doc, version)


@router.patch(
    "/providers/{provider_id}", operation_id="providers-update", response_model=ProviderRead,
    responses=error_responses(401, 403, 404, 409, 412, 413, 422),
)
async def update_provider(
    provider_id: uuid.UUID, data: ProviderUpdate, request: Request,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Update a provider of the caller's practice; If-Match guards against lost updates."""
    provider = await service.get_provider_for_write(session, principal, provider_id=provider_id)
    check_if_match(request, provider.version)
    provider = await service.update_provider(session, principal, provider=provider, data=data)
    return await _written(session, PROVIDERS, provider.id)


@router.delete(
    "/providers/{provider_id}", status_code=status.HTTP_204_NO_CONTENT,
    operation_id="providers-delete", responses=error_responses(401, 403, 404, 412, 422),
)
async def delete_provider(
    provider_id: uuid.UUID, request: Request,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Deactivate a provider: it leaves search at once."""
    provider = await service.get_provider_for_write(session, principal, provider_id=provider_id)
    check_if_match(request, provider.version)
    await service.deactivate_provider(session, provider=provider)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- attorneys ---------------------------------------------------------------------------


@router.get(
    "/attorneys", operation_id="attorneys-search", response_model=Page[AttorneySearchResult],
    responses=SEARCH_ERRORS,
)
async def search_attorneys(
    request: Request,
    lat: Lat = None, lon: Lon = None, zip: Zip = None, radius: Radius = None, unit: Unit = None,
    practice_area: Annotated[PracticeArea | None, Query()] = None,
    language: Term = None,
    accepting_clients: Flag = None, accepts_lop_cases: Flag = None,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> Response:
    """Search the attorney directory, by distance from a point or by name. Public."""
    point = _point(lat, lon, zip, radius, unit)
    filters = {
        "practice_area": practice_area,
        "language": language.strip().lower() if language else None,
        "accepting_clients": accepting_clients,
        "accepts_lop_cases": accepts_lop_cases,
        "q": _name_patterns(q),
    }
    return await _search(ATTORNEYS, request, point, filters, None, limit, cursor)


@router.post(
    "/attorneys", status_code=status.HTTP_201_CREATED, operation_id="attorneys-create",
    response_model=AttorneyRead, dependencies=[Depends(idempotency)],
    responses=error_responses(401, 403, 409, 413, 422),
)
async def create_attorney(
    data: AttorneyCreate,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """List an attorney of the caller's law firm (scope directory:write)."""
    attorney = await service.create_attorney(session, principal, data=data)
    return await _written(session, ATTORNEYS, attorney.id, 201, f"/v1/attorneys/{attorney.id}")


@router.get(
    "/attorneys/{attorney_id}", operation_id="attorneys-get", response_model=AttorneyRead,
    responses=error_responses(404, 422),
)
async def get_attorney(
    attorney_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Get one attorney. Public."""
    doc, version = await service.public_document(session, ATTORNEYS, attorney_id)
    return _doc_response(doc, version)


@router.patch(
    "/attorneys/{attorney_id}", operation_id="attorneys-update", response_model=AttorneyRead,
    responses=error_responses(401, 403, 404, 409, 412, 413, 422),
)
async def update_attorney(
    attorney_id: uuid.UUID, data: AttorneyUpdate, request: Request,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Update an attorney of the caller's law firm."""
    attorney = await service.get_attorney_for_write(session, principal, attorney_id=attorney_id)
    check_if_match(request, attorney.version)
    attorney = await service.update_attorney(session, principal, attorney=attorney, data=data)
    return await _written(session, ATTORNEYS, attorney.id)


@router.delete(
    "/attorneys/{attorney_id}", status_code=status.HTTP_204_NO_CONTENT,
    operation_id="attorneys-delete", responses=error_responses(401, 403, 404, 412, 422),
)
async def delete_attorney(
    attorney_id: uuid.UUID, request: Request,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Deactivate an attorney: they leave search at once."""
    attorney = await service.get_attorney_for_write(session, principal, attorney_id=attorney_id)
    check_if_match(request, attorney.version)
    await service.deactivate_attorney(session, attorney=attorney)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
