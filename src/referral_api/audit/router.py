from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.audit import service
from referral_api.auth.principals import Principal, current_principal
from referral_api.db import get_session
from referral_api.errors import Forbidden, ValidationFailed, error_responses
from referral_api.http import NO_STORE, make_router
from referral_api.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    decode_cursor,
    encode_cursor,
)

router = make_router("/v1", "audit")


class AuditEventRead(BaseModel):
    id: int
    at: datetime
    principal: str
    organization_id: uuid.UUID | None
    action: str
    referral_id: uuid.UUID | None
    patient_id: uuid.UUID | None
    outcome: str
    request_id: str | None


@router.get("/audit-events", operation_id="audit-events-list",
            responses=error_responses(401, 403, 422))
async def list_audit_events(
    response: Response,
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
) -> Page[AuditEventRead]:
    """The PHI access log of the caller's organization (its admins only), newest first."""
    response.headers["Cache-Control"] = NO_STORE
    if principal.organization_id is None or not principal.has("org:admin"):
        raise Forbidden("the audit log is for the organization's admins (org:admin)")
    fingerprint = f"audit:{principal.organization_id}:{referral_id}"
    before = None
    if cursor is not None:
        (raw,) = decode_cursor(cursor, fingerprint, 1)
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ValidationFailed("cursor is not valid",
                                   errors=[("/query/cursor", "malformed cursor")])
        before = raw
    rows = await service.list_events(
        session, organization_id=principal.organization_id, referral_id=referral_id,
        limit=limit, before_id=before,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[AuditEventRead](
        items=[
            AuditEventRead.model_validate(r, from_attributes=True).model_copy(
                update={"outcome": service.outcome_for(r, principal.organization_id)})
            for r in rows
        ],
        next_cursor=encode_cursor([rows[-1].id], fingerprint) if more else None,
    )
