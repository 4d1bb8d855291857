from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.auth.principals import Principal, current_principal
from referral_api.db import get_session
from referral_api.errors import ValidationFailed, error_responses
from referral_api.http import NO_STORE, make_router, set_etag
from referral_api.idempotency import idempotency
from referral_api.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    decode_cursor,
    encode_cursor,
    query_fingerprint,
)
from referral_api.referrals import service
from referral_api.referrals.schemas import (
    AttestationRead,
    CancelIn,
    Completeness,
    DeclineIn,
    Direction,
    NoteRead,
    PatientRead,
    ReferralCreate,
    ReferralEventRead,
    ReferralRead,
    ReferralStatus,
    ReportIn,
    ReportRead,
    ScheduleIn,
    VisitIn,
    VisitRead,
)

router = make_router("/v1", "referrals")
READ_ERRORS = error_responses(401, 403, 404, 422)
ACTION_ERRORS = error_responses(401, 403, 404, 409, 422)


def referral_read(bundle: service.ReferralBundle, principal: Principal) -> ReferralRead:
    r, p = bundle.referral, bundle.patient
    return ReferralRead(
        id=r.id, status=ReferralStatus(r.status),
        sender_organization_id=r.sender_organization_id,
        receiver_organization_id=r.receiver_organization_id,
        from_provider_id=r.from_provider_id, from_attorney_id=r.from_attorney_id,
        to_provider_id=r.to_provider_id, external_id=r.external_id,
        urgency=r.urgency,  # type: ignore[arg-type]
        case_type=r.case_type,  # type: ignore[arg-type]
        attorney_id=r.attorney_id, letter_of_protection_id=r.letter_of_protection_id,
        patient=PatientRead(id=p.id, first_name=p.first_name, last_name=p.last_name,
                            birth_date=p.birth_date, phone=p.phone, email=p.email,
                            external_id=p.external_id),
        note=NoteRead.model_validate({
            "mechanism_of_injury": None, "onset_date": None, "clinical_impression": None,
            "care_to_date": None, "response_to_care": None, "precautions": None,
            "communication": None, **r.note,
        }),
        attestation=AttestationRead(no_remuneration=r.no_remuneration,
                                    attested_at=r.attested_at, attested_by=r.attested_by),
        completeness=Completeness(score=r.completeness_score,
                                  missing=list(r.completeness_missing)),
        overdue=service.is_overdue(r), reply_by=r.reply_by, appointment_at=r.appointment_at,
        decline_reason=r.decline_reason, cancel_reason=r.cancel_reason,
        visits=[VisitRead(id=v.id, date=v.date, kind=v.kind,  # type: ignore[arg-type]
                          attended=v.attended, created_at=v.created_at)
                for v in bundle.visits],
        reports=[ReportRead(id=x.id, kind=x.kind,  # type: ignore[arg-type]
                            summary=x.summary, goals=x.goals,  # type: ignore[arg-type]
                            pain_initial=x.pain_initial, pain_discharge=x.pain_discharge,
                            created_at=x.created_at)
                 for x in bundle.reports],
        allowed_actions=service.allowed_actions(r, service.sides(principal, r)),
        sent_at=r.sent_at, version=r.version, created_at=r.created_at, updated_at=r.updated_at,
    )


async def _one(session: AsyncSession, principal: Principal, referral: service.Referral,
               response: Response) -> ReferralRead:
    (bundle,) = await service.bundles(session, [referral])
    return _bundle_response(bundle, principal, response)


def _bundle_response(bundle: service.ReferralBundle, principal: Principal,
                     response: Response) -> ReferralRead:
    response.headers["Cache-Control"] = NO_STORE
    set_etag(response, bundle.referral.version)
    return referral_read(bundle, principal)


@router.post(
    "/referrals", status_code=status.HTTP_201_CREATED, operation_id="referrals-create",
    dependencies=[Depends(idempotency)], responses={
        200: {"description": "A referral with this external_id already exists: returned as is",
              "model": ReferralRead},
        **error_responses(401, 403, 409, 413, 422),
    },
)
async def create_referral(
    data: ReferralCreate, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """Send a referral with its patient, structured note and no-remuneration attestation."""
    bundle, created = await service.create(request, session, principal, data=data)
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/referrals/{bundle.referral.id}"
    return _bundle_response(bundle, principal, response)


@router.get("/referrals", operation_id="referrals-list", responses=error_responses(401, 403, 422))
async def list_referrals(
    request: Request, response: Response,
    direction: Annotated[Direction | None, Query()] = None,
    status_: Annotated[ReferralStatus | None, Query(alias="status")] = None,
    partner_organization_id: Annotated[uuid.UUID | None, Query()] = None,
    updated_since: Annotated[datetime | None, Query(description="RFC 3339 timestamp")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Page[ReferralRead]:
    """Referrals the caller's organization sent or received, newest first."""
    response.headers["Cache-Control"] = NO_STORE
    if updated_since is not None and updated_since.tzinfo is None:
        updated_since = updated_since.replace(tzinfo=UTC)
    filters = service.ListFilters(direction, status_.value if status_ else None,
                                  partner_organization_id, updated_since)
    fingerprint = query_fingerprint({"org": str(principal.organization_id),
                                     **filters.__dict__})
    after = None
    if cursor is not None:
        created_raw, id_raw = decode_cursor(cursor, fingerprint, 2)
        try:
            after = (datetime.fromisoformat(str(created_raw)), uuid.UUID(str(id_raw)))
        except ValueError:
            raise ValidationFailed("cursor is not valid",
                                   errors=[("/query/cursor", "malformed cursor")]) from None
    rows = await service.list_visible(request, session, principal, filters=filters,
                                      limit=limit, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [referral_read(b, principal) for b in await service.bundles(session, rows)]
    next_cursor = (encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)],
                                 fingerprint) if more else None)
    return Page[ReferralRead](items=items, next_cursor=next_cursor)


@router.get("/referrals/{referral_id}", operation_id="referrals-get", responses=READ_ERRORS)
async def get_referral(
    referral_id: uuid.UUID, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """One referral with its patient, note, visits and reports (sender and receiver only)."""
    referral = await service.get_visible(request, session, principal, referral_id=referral_id,
                                         action="referral.read")
    service.require(principal, "referrals:read")
    return await _one(session, principal, referral, response)


@router.get("/referrals/{referral_id}/events", operation_id="referrals-events",
            responses=READ_ERRORS)
async def list_referral_events(
    referral_id: uuid.UUID, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Page[ReferralEventRead]:
    """Every transition of a referral, oldest first, with actor, time and data."""
    referral = await service.get_visible(request, session, principal, referral_id=referral_id,
                                         action="referral.events")
    service.require(principal, "referrals:read")
    response.headers["Cache-Control"] = NO_STORE
    rows = await service.events(session, referral_id=referral.id)
    return Page[ReferralEventRead](items=[
        ReferralEventRead(id=e.id, at=e.at, action=e.action,
                          from_status=ReferralStatus(e.from_status) if e.from_status else None,
                          to_status=ReferralStatus(e.to_status), actor=e.actor,
                          actor_organization_id=e.actor_organization_id, data=e.data)
        for e in rows
    ])


async def _act(request: Request, response: Response, session: AsyncSession,
               principal: Principal, referral_id: uuid.UUID, action: str,
               body: DeclineIn | CancelIn | ScheduleIn | None = None) -> ReferralRead:
    referral = await service.act(request, session, principal, referral_id=referral_id,
                                 action=action, body=body)
    return await _one(session, principal, referral, response)


@router.post("/referrals/{referral_id}/acknowledge", operation_id="referrals-acknowledge",
             responses=ACTION_ERRORS)
async def acknowledge_referral(
    referral_id: uuid.UUID, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """Receiver: the referral arrived (sent → acknowledged)."""
    return await _act(request, response, session, principal, referral_id, "acknowledge")


@router.post("/referrals/{referral_id}/accept", operation_id="referrals-accept",
             responses=ACTION_ERRORS)
async def accept_referral(
    referral_id: uuid.UUID, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """Receiver: take the patient on (sent | acknowledged → accepted)."""
    return await _act(request, response, session, principal, referral_id, "accept")


@router.post("/referrals/{referral_id}/decline", operation_id="referrals-decline",
             responses=ACTION_ERRORS)
async def decline_referral(
    referral_id: uuid.UUID, data: DeclineIn, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """Receiver: decline with a reason (sent | acknowledged → declined)."""
    return await _act(request, response, session, principal, referral_id, "decline", data)


@router.post("/referrals/{referral_id}/schedule", operation_id="referrals-schedule",
             responses=ACTION_ERRORS)
async def schedule_referral(
    referral_id: uuid.UUID, data: ScheduleIn, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """Receiver: book (or rebook) the first visit (accepted | scheduled | no_show →
    scheduled)."""
    return await _act(request, response, session, principal, referral_id, "schedule", data)


@router.post("/referrals/{referral_id}/cancel", operation_id="referrals-cancel",
             responses=ACTION_ERRORS)
async def cancel_referral(
    referral_id: uuid.UUID, data: CancelIn, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """Sender: cancel a referral that is not yet declined, completed or cancelled."""
    return await _act(request, response, session, principal, referral_id, "cancel", data)


@router.post("/referrals/{referral_id}/visits", operation_id="referrals-visits-create",
             status_code=status.HTTP_201_CREATED, dependencies=[Depends(idempotency)],
             responses={**ACTION_ERRORS, **error_responses(413)})
async def record_visit(
    referral_id: uuid.UUID, data: VisitIn, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """Receiver: record a visit. An attended initial visit moves scheduled →
    first_visit_completed, a missed one → no_show; follow-ups keep the status."""
    referral = await service.record_visit(request, session, principal, referral_id=referral_id,
                                          data=data)
    return await _one(session, principal, referral, response)


@router.post("/referrals/{referral_id}/reports", operation_id="referrals-reports-create",
             status_code=status.HTTP_201_CREATED, dependencies=[Depends(idempotency)],
             responses={**ACTION_ERRORS, **error_responses(413)})
async def record_report(
    referral_id: uuid.UUID, data: ReportIn, request: Request, response: Response,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> ReferralRead:
    """Receiver: report back. An interim report keeps the status; the outcome report
    completes the referral."""
    referral = await service.record_report(request, session, principal,
                                           referral_id=referral_id, data=data)
    return await _one(session, principal, referral, response)
