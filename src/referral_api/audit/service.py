"""The audit trail of PHI access: every read and write of a referral or patient.

Entries are collected during the request and written in its transaction when it
succeeds, or in a transaction of their own when it fails (so denied attempts are kept,
with outcome "denied" or "failed"). Entries carry ids, never PHI.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.auth.principals import Principal
from referral_api.db import before_commit, on_failure
from referral_api.models import AuditEvent
from referral_api.observability import request_id_var


@dataclass
class _Pending:
    rows: list[dict[str, Any]] = field(default_factory=list)


def record(
    request: Request,
    principal: Principal,
    *,
    action: str,
    referral_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    subject_organization_ids: list[uuid.UUID] | None = None,
    outcome: str = "success",
) -> None:
    pending: _Pending | None = getattr(request.state, "audit", None)
    if pending is None:
        pending = _Pending()
        request.state.audit = pending

        async def on_success(session: AsyncSession, _: Response) -> None:
            if pending.rows:
                await session.execute(insert(AuditEvent), pending.rows)

        async def on_fail(session: AsyncSession) -> None:
            rows = [{**r, "outcome": "failed" if r["outcome"] == "success" else r["outcome"]}
                    for r in pending.rows]
            if rows:
                await session.execute(insert(AuditEvent), rows)

        before_commit(request, on_success)
        on_failure(request, on_fail)
    pending.rows.append({
        "at": datetime.now(UTC),
        "principal": principal.key,
        "organization_id": principal.organization_id,
        "subject_organization_ids": list(dict.fromkeys(subject_organization_ids or [])),
        "action": action,
        "referral_id": referral_id,
        "patient_id": patient_id,
        "outcome": outcome,
        "request_id": request_id_var.get(),
    })


def record_replay(request: Request, principal: Principal, body: Any) -> None:
    """Audit an idempotent replay whose stored response is a referral (it carries PHI)."""
    if not (isinstance(body, dict) and isinstance(body.get("patient"), dict)):
        return
    try:
        referral_id = uuid.UUID(str(body["id"]))
        patient_id = uuid.UUID(str(body["patient"]["id"]))
        subjects = [uuid.UUID(str(body["sender_organization_id"])),
                    uuid.UUID(str(body["receiver_organization_id"]))]
    except (KeyError, ValueError):
        return
    record(request, principal, action="referral.replay", referral_id=referral_id,
           patient_id=patient_id, subject_organization_ids=subjects, outcome="replayed")


def outcome_for(event: AuditEvent, viewer: uuid.UUID) -> str:
    """What `viewer` may learn of an outcome: a referral's parties see that an outsider
    was denied; the outsider sees "not_found", as for an id that does not exist."""
    if event.outcome == "denied" and viewer not in (event.subject_organization_ids or []):
        return "not_found"
    return event.outcome


async def list_events(
    session: AsyncSession, *, organization_id: uuid.UUID, referral_id: uuid.UUID | None,
    limit: int, before_id: int | None,
) -> list[AuditEvent]:
    """Entries by the organization's principals, or about its referrals; newest first."""
    stmt = (
        select(AuditEvent)
        .where(or_(AuditEvent.organization_id == organization_id,
                   AuditEvent.subject_organization_ids.contains([organization_id])))
        .order_by(AuditEvent.id.desc())
        .limit(limit + 1)
    )
    if referral_id is not None:
        stmt = stmt.where(AuditEvent.referral_id == referral_id)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return list((await session.execute(stmt)).scalars())
