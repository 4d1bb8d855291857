"""Referrals: creation with a structured note, the closed-loop lifecycle, privacy.

A referral and its patient are visible to the sending and the receiving organization
only; to anyone else they do not exist (404, audited as denied).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.audit import service as audit
from referral_api.auth.principals import Principal
from referral_api.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from referral_api.models import (
    Attorney,
    Patient,
    Provider,
    Referral,
    ReferralEvent,
    ReferralReport,
    ReferralVisit,
)
from referral_api.referrals.clinical import completeness
from referral_api.referrals.schemas import (
    CancelIn,
    DeclineIn,
    ReferralCreate,
    ReportIn,
    ScheduleIn,
    VisitIn,
)

TERMINAL = frozenset({"declined", "completed", "cancelled"})
RECEIVER, SENDER = "receiver", "sender"


@dataclass(frozen=True)
class Action:
    side: str
    allowed_from: frozenset[str]


# The lifecycle, harmonized with the HL7 BSeR / 360X referral task. The target status of
# visits and reports depends on their content (see record_visit / record_report).
ACTIONS: dict[str, Action] = {
    "acknowledge": Action(RECEIVER, frozenset({"sent"})),
    "accept": Action(RECEIVER, frozenset({"sent", "acknowledged"})),
    "decline": Action(RECEIVER, frozenset({"sent", "acknowledged"})),
    "schedule": Action(RECEIVER, frozenset({"accepted", "scheduled", "no_show"})),
    "visits": Action(RECEIVER, frozenset({"scheduled", "first_visit_completed"})),
    "reports": Action(RECEIVER, frozenset({"first_visit_completed"})),
    "cancel": Action(SENDER, frozenset({
        "sent", "acknowledged", "accepted", "scheduled", "first_visit_completed", "no_show",
    })),
}


def _now() -> datetime:
    return datetime.now(UTC)


def sides(principal: Principal, referral: Referral) -> set[str]:
    out = set()
    if principal.organization_id == referral.sender_organization_id:
        out.add(SENDER)
    if principal.organization_id == referral.receiver_organization_id:
        out.add(RECEIVER)
    return out


def allowed_actions(referral: Referral, caller_sides: set[str]) -> list[str]:
    return [name for name, a in ACTIONS.items()
            if a.side in caller_sides and referral.status in a.allowed_from]


def is_overdue(referral: Referral, today: date | None = None) -> bool:
    """reply_by has passed and no report came back (declined/cancelled ones never are)."""
    if referral.reply_by is None or referral.first_report_at is not None:
        return False
    if referral.status in ("declined", "cancelled"):
        return False
    return referral.reply_by < (today or datetime.now(UTC).date())


def _subjects(referral: Referral) -> list[uuid.UUID]:
    return [referral.sender_organization_id, referral.receiver_organization_id]


def require(principal: Principal, scope: str) -> None:
    if not principal.has(scope):
        raise Forbidden(f"this action needs the scope {scope}")


# -- reading -----------------------------------------------------------------------------


async def get_visible(
    request: Request, session: AsyncSession, principal: Principal, *, referral_id: uuid.UUID,
    action: str, for_update: bool = False,
) -> Referral:
    """The referral if the caller's organization is a party to it; else 404 (audited).

    Visibility comes before any scope check, so to a non-party every referral id looks
    missing, whatever its credentials (the platform operator's included)."""
    stmt = select(Referral).where(Referral.id == referral_id)
    if for_update:
        stmt = stmt.with_for_update()
    referral = (await session.execute(stmt)).scalar_one_or_none()
    if referral is None or not sides(principal, referral):
        audit.record(
            request, principal, action=action, referral_id=referral_id,
            subject_organization_ids=_subjects(referral) if referral else [],
            outcome="denied" if referral else "not_found",
        )
        raise NotFound("referral not found")
    audit.record(request, principal, action=action, referral_id=referral.id,
                 patient_id=referral.patient_id, subject_organization_ids=_subjects(referral))
    return referral


@dataclass
class ReferralBundle:
    referral: Referral
    patient: Patient
    visits: list[ReferralVisit]
    reports: list[ReferralReport]


async def bundles(session: AsyncSession, referrals: Sequence[Referral]) -> list[ReferralBundle]:
    """Patients, visits and reports of `referrals`, in three queries."""
    if not referrals:
        return []
    ids = [r.id for r in referrals]
    patients = {
        p.id: p for p in (await session.execute(
            select(Patient).where(Patient.id.in_({r.patient_id for r in referrals}))
        )).scalars()
    }
    visits: dict[uuid.UUID, list[ReferralVisit]] = {i: [] for i in ids}
    for v in (await session.execute(
        select(ReferralVisit).where(ReferralVisit.referral_id.in_(ids))
        .order_by(ReferralVisit.date, ReferralVisit.created_at)
    )).scalars():
        visits[v.referral_id].append(v)
    reports: dict[uuid.UUID, list[ReferralReport]] = {i: [] for i in ids}
    for rep in (await session.execute(
        select(ReferralReport).where(ReferralReport.referral_id.in_(ids))
        .order_by(ReferralReport.created_at)
    )).scalars():
        reports[rep.referral_id].append(rep)
    return [ReferralBundle(r, patients[r.patient_id], visits[r.id], reports[r.id])
            for r in referrals]


@dataclass(frozen=True)
class ListFilters:
    direction: str | None
    status: str | None
    partner_organization_id: uuid.UUID | None
    updated_since: datetime | None


async def list_visible(
    request: Request, session: AsyncSession, principal: Principal, *, filters: ListFilters,
    limit: int, after: tuple[datetime, uuid.UUID] | None,
) -> list[Referral]:
    """The caller's sent and/or received referrals, newest first (created_at, id)."""
    require(principal, "referrals:read")
    org = principal.organization_id
    if org is None:
        return []
    sent = Referral.sender_organization_id == org
    received = Referral.receiver_organization_id == org
    where: list[Any] = [
        sent if filters.direction == "sent" else received if filters.direction == "received"
        else or_(sent, received)
    ]
    if filters.status is not None:
        where.append(Referral.status == filters.status)
    if filters.partner_organization_id is not None:
        partner = filters.partner_organization_id
        where.append(or_(
            and_(sent, Referral.receiver_organization_id == partner),
            and_(received, Referral.sender_organization_id == partner),
        ))
    if filters.updated_since is not None:
        where.append(Referral.updated_at >= filters.updated_since)
    if after is not None:
        where.append(
            or_(Referral.created_at < after[0],
                and_(Referral.created_at == after[0], Referral.id < after[1]))
        )
    rows = list((await session.execute(
        select(Referral).where(*where)
        .order_by(Referral.created_at.desc(), Referral.id.desc()).limit(limit + 1)
    )).scalars())
    for r in rows[:limit]:
        audit.record(request, principal, action="referral.list", referral_id=r.id,
                     patient_id=r.patient_id, subject_organization_ids=_subjects(r))
    return rows


async def events(session: AsyncSession, *, referral_id: uuid.UUID) -> list[ReferralEvent]:
    return list((await session.execute(
        select(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
        .order_by(ReferralEvent.id)
    )).scalars())


# -- creating ----------------------------------------------------------------------------


class _Duplicate(Exception):
    pass


async def _existing_by_external_id(session: AsyncSession, org: uuid.UUID, external_id: str
                                   ) -> Referral | None:
    return (await session.execute(
        select(Referral).where(Referral.sender_organization_id == org,
                               Referral.external_id == external_id)
    )).scalar_one_or_none()


async def _active_by_id(
    session: AsyncSession, model: type[Provider] | type[Attorney], ids: set[uuid.UUID | None]
) -> dict[uuid.UUID, Any]:
    """Active providers (or attorneys) among `ids`, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows: Any = (await session.execute(
        select(model).where(model.id.in_(wanted), model.active.is_(True))
    )).scalars()
    return {row.id: row for row in rows}


async def create(
    request: Request, session: AsyncSession, principal: Principal, *, data: ReferralCreate
) -> tuple[ReferralBundle, bool]:
    """Create a referral; (it with its patient, created). A repeated external_id returns
    the existing referral of this sender (created False)."""
    require(principal, "referrals:write")
    org = principal.organization_id
    if org is None:
        raise Forbidden("referrals are sent by an organization's own credentials")
    if data.external_id is not None:
        existing = await _existing_by_external_id(session, org, data.external_id)
        if existing is not None:
            return await _already_sent(request, session, principal, existing), False

    errors: list[tuple[str, str]] = []
    providers = await _active_by_id(session, Provider,
                                    {data.from_provider_id, data.to_provider_id})
    attorneys = await _active_by_id(session, Attorney,
                                    {data.from_attorney_id, data.attorney_id})
    if data.from_provider_id is not None:
        sender = providers.get(data.from_provider_id)
        if sender is None or sender.organization_id != org:
            errors.append(("/body/from_provider_id", "not a provider of your organization"))
    if data.from_attorney_id is not None:
        sender = attorneys.get(data.from_attorney_id)
        if sender is None or sender.organization_id != org:
            errors.append(("/body/from_attorney_id", "not an attorney of your organization"))
    receiver = providers.get(data.to_provider_id)
    if receiver is None:
        errors.append(("/body/to_provider_id", "no such provider in the directory"))
    elif not receiver.accepting_referrals:
        errors.append(("/body/to_provider_id", "this provider is not accepting referrals"))
    if data.attorney_id is not None and data.attorney_id not in attorneys:
        errors.append(("/body/attorney_id", "no such attorney in the directory"))
    if data.letter_of_protection_id is not None:
        errors.append(("/body/letter_of_protection_id", "no such letter of protection"))
    if errors:
        raise ValidationFailed("; ".join(f"{p}: {d}" for p, d in errors), errors=errors)
    assert receiver is not None

    patient_doc = data.patient.model_dump(mode="json")
    note_doc = data.note.model_dump(mode="json")
    score, missing = completeness(patient_doc, note_doc)
    now = _now()
    comm = data.note.communication
    try:
        # A savepoint only where a concurrent duplicate can make the insert a no-op, so
        # that the patient row written for it is undone too.
        async with session.begin_nested() if data.external_id else contextlib.nullcontext():
            patient = await _patient(session, org, data)
            patient_id = patient.id
            referral_id = uuid.uuid4()
            values = {
                "id": referral_id, "sender_organization_id": org,
                "receiver_organization_id": receiver.organization_id,
                "from_provider_id": data.from_provider_id,
                "from_attorney_id": data.from_attorney_id,
                "to_provider_id": data.to_provider_id, "attorney_id": data.attorney_id,
                "patient_id": patient_id, "letter_of_protection_id": None,
                "external_id": data.external_id, "urgency": data.urgency.value,
                "case_type": data.case_type.value, "note": note_doc,
                "diagnosis_codes": list(data.note.diagnosis_codes),
                "no_remuneration": True, "attested_by": principal.key, "attested_at": now,
                "completeness_score": score, "completeness_missing": missing, "status": "sent",
                "reply_by": comm.reply_by if comm else None, "sent_at": now, "created_at": now,
                "updated_at": now, "version": 1,
            }
            stmt = insert(Referral)
            if data.external_id is not None:
                stmt = stmt.on_conflict_do_nothing(
                    index_elements=["sender_organization_id", "external_id"],
                    index_where=Referral.external_id.isnot(None),
                )
            # ORM-enabled INSERT ... RETURNING: the new row comes back as an entity.
            referral = (await session.scalars(stmt.returning(Referral), [values])).first()
            if referral is None:
                raise _Duplicate()
    except _Duplicate:
        # A concurrent request with the same external_id won the race.
        existing = await _existing_by_external_id(session, org, data.external_id or "")
        assert existing is not None
        return await _already_sent(request, session, principal, existing), False
    await _event(session, referral, principal, "create", None, {})
    audit.record(request, principal, action="referral.create", referral_id=referral.id,
                 patient_id=referral.patient_id, subject_organization_ids=_subjects(referral))
    await session.flush()
    return ReferralBundle(referral, patient, [], []), True


async def _already_sent(request: Request, session: AsyncSession, principal: Principal,
                        existing: Referral) -> ReferralBundle:
    """The referral this sender already sent with the same external_id (audited read)."""
    audit.record(request, principal, action="referral.create.duplicate",
                 referral_id=existing.id, patient_id=existing.patient_id,
                 subject_organization_ids=_subjects(existing))
    return (await bundles(session, [existing]))[0]


async def _patient(session: AsyncSession, org: uuid.UUID, data: ReferralCreate) -> Patient:
    """A new patient of the sender, or the sender's patient with the same external_id."""
    p = data.patient
    values = {"id": uuid.uuid4(), "organization_id": org, "first_name": p.first_name,
              "last_name": p.last_name, "birth_date": p.birth_date, "phone": p.phone,
              "email": str(p.email) if p.email else None, "external_id": p.external_id}
    stmt = insert(Patient)
    if p.external_id is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=["organization_id", "external_id"],
            index_where=Patient.external_id.isnot(None),
        )
    patient = (await session.scalars(stmt.returning(Patient), [values])).first()
    if patient is not None:
        return patient
    return (await session.execute(
        select(Patient).where(Patient.organization_id == org,
                              Patient.external_id == p.external_id)
    )).scalar_one()


async def _event(session: AsyncSession, referral: Referral, principal: Principal,
                 action: str, from_status: str | None, data: dict[str, Any]) -> None:
    """Append to the referral's event log (a plain INSERT: events are never read back in
    the request that writes them)."""
    assert principal.organization_id is not None
    await session.execute(insert(ReferralEvent), [{
        "referral_id": referral.id, "at": _now(), "action": action,
        "from_status": from_status, "to_status": referral.status, "actor": principal.key,
        "actor_organization_id": principal.organization_id, "data": data,
    }])


# -- the lifecycle -----------------------------------------------------------------------


def _check_action(principal: Principal, referral: Referral, action: str,
                  status_ok: bool | None = None) -> None:
    spec = ACTIONS[action]
    caller = sides(principal, referral)
    if spec.side not in caller:
        who = "receiving" if spec.side == RECEIVER else "sending"
        raise Forbidden(f"only the {who} organization may {action.rstrip('s')} this referral")
    ok = referral.status in spec.allowed_from if status_ok is None else status_ok
    if not ok:
        allowed = allowed_actions(referral, caller)
        raise InvalidTransition(
            f"{action} is not allowed while the referral is {referral.status}; allowed now: "
            f"{', '.join(allowed) or 'none'}",
            extra={"allowed_actions": allowed, "current_status": referral.status},
        )


async def _transition(session: AsyncSession, principal: Principal, referral: Referral,
                      action: str, to_status: str, data: dict[str, Any]) -> Referral:
    from_status = referral.status
    referral.status = to_status
    referral.version += 1
    referral.updated_at = _now()
    await session.flush()  # the status change (and any visit/report) first, then its event
    await _event(session, referral, principal, action, from_status, data)
    return referral


async def act(
    request: Request, session: AsyncSession, principal: Principal, *, referral_id: uuid.UUID,
    action: str, body: DeclineIn | CancelIn | ScheduleIn | None = None,
) -> Referral:
    """acknowledge | accept | decline | schedule | cancel, under a row lock so two
    concurrent actions never both apply."""
    referral = await get_visible(request, session, principal, referral_id=referral_id,
                                 action=f"referral.{action}", for_update=True)
    require(principal, "referrals:write")
    _check_action(principal, referral, action)
    data: dict[str, Any] = {}
    if action == "acknowledge":
        to = "acknowledged"
    elif action == "accept":
        to = "accepted"
    elif action == "decline":
        assert isinstance(body, DeclineIn)
        referral.decline_reason = body.reason
        to, data = "declined", {"reason": body.reason}
    elif action == "schedule":
        assert isinstance(body, ScheduleIn)
        referral.appointment_at = body.appointment_at
        referral.scheduled_at = referral.scheduled_at or _now()
        to = "scheduled"
        data = {"appointment_at": body.appointment_at.astimezone(UTC).isoformat(),
                "rescheduled": referral.status == "scheduled"}
    elif action == "cancel":
        assert isinstance(body, CancelIn)
        referral.cancel_reason = body.reason
        to, data = "cancelled", {"reason": body.reason}
    else:  # pragma: no cover - the router only routes the actions above
        raise ValueError(action)
    return await _transition(session, principal, referral, action, to, data)


async def record_visit(
    request: Request, session: AsyncSession, principal: Principal, *, referral_id: uuid.UUID,
    data: VisitIn,
) -> Referral:
    referral = await get_visible(request, session, principal, referral_id=referral_id,
                                 action="referral.visit", for_update=True)
    require(principal, "referrals:write")
    wanted = "scheduled" if data.kind.value == "initial" else "first_visit_completed"
    _check_action(principal, referral, "visits", status_ok=referral.status == wanted)
    visit = ReferralVisit(id=uuid.uuid4(), referral_id=referral.id, date=data.date,
                          kind=data.kind.value, attended=data.attended, created_at=_now())
    session.add(visit)
    event = {"visit_id": str(visit.id), "date": data.date.isoformat(), "kind": data.kind.value,
             "attended": data.attended}
    if data.kind.value == "initial":
        to = "first_visit_completed" if data.attended else "no_show"
    else:
        to = referral.status
    return await _transition(session, principal, referral, "visit", to, event)


async def record_report(
    request: Request, session: AsyncSession, principal: Principal, *, referral_id: uuid.UUID,
    data: ReportIn,
) -> Referral:
    referral = await get_visible(request, session, principal, referral_id=referral_id,
                                 action="referral.report", for_update=True)
    require(principal, "referrals:write")
    _check_action(principal, referral, "reports")
    now = _now()
    report = ReferralReport(
        id=uuid.uuid4(), referral_id=referral.id, kind=data.kind.value, summary=data.summary,
        goals=data.goals.value if data.goals else None, pain_initial=data.pain_initial,
        pain_discharge=data.pain_discharge, created_at=now,
    )
    session.add(report)
    referral.first_report_at = referral.first_report_at or now
    to = referral.status
    if data.kind.value == "outcome":
        to = "completed"
        referral.completed_at = now
    event = {"report_id": str(report.id), "kind": data.kind.value,
             "goals": data.goals.value if data.goals else None}
    return await _transition(session, principal, referral, "report", to, event)
