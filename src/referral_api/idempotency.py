"""``Idempotency-Key`` on creating POSTs, stored in PostgreSQL.

The first successful response is stored in the same transaction as the objects it
created (CommitRoute's before-commit hook), so a replayable record exists exactly when
the effects do. A transaction-scoped advisory lock on (principal, key) tells a
concurrent duplicate that the first request is still running (409) instead of letting
both run. Nothing lives in process memory, so any number of workers agree.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.audit import service as audit
from referral_api.auth.principals import Principal, current_principal
from referral_api.db import before_commit, get_session
from referral_api.errors import Conflict, ValidationFailed
from referral_api.models import IdempotencyRecord

REPLAYED_HEADERS = ("etag", "location", "content-type", "cache-control")
TTL = timedelta(hours=24)


class IdempotentReplay(Exception):
    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__("replay")
        # Copied out: the session is rolled back before the response is rendered.
        self.status_code = record.status_code
        self.body = record.response_body
        self.headers = dict(record.response_headers)


def replay_response(exc: IdempotentReplay) -> Response:
    headers = {**exc.headers, "Idempotent-Replayed": "true"}
    headers.pop("content-type", None)
    return JSONResponse(exc.body, status_code=exc.status_code, headers=headers)


def _request_hash(request: Request, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


async def idempotency(
    request: Request,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session),
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", min_length=1, max_length=255,
        description="Retries with the same key and body replay the first response for 24 h.",
    ),
) -> None:
    if idempotency_key is None:
        return
    body = await request.body()
    request_hash = _request_hash(request, body)
    locked = (
        await session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 7))"),
            {"k": f"{principal.key}\n{idempotency_key}"},
        )
    ).scalar_one()
    if not locked:
        raise Conflict(
            "a request with this Idempotency-Key is still in progress; retry after it finishes"
        )
    now = datetime.now(UTC)
    record = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal.key,
                IdempotencyRecord.key == idempotency_key,
                IdempotencyRecord.created_at > now - TTL,
            )
        )
    ).scalar_one_or_none()
    if record is not None:
        if record.request_hash != request_hash:
            raise ValidationFailed(
                "this Idempotency-Key was used with a different request body",
                errors=[("/header/Idempotency-Key", "reused with a different body")],
            )
        # A replay hands the stored body out again: PHI in it is a read to audit.
        audit.record_replay(request, principal, record.response_body)
        raise IdempotentReplay(record)

    async def store(session: AsyncSession, response: Response) -> None:
        body_bytes = bytes(response.body) if hasattr(response, "body") else b"null"
        stored: Any = json.loads(body_bytes) if body_bytes else None
        headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
        values = {
            "principal": principal.key,
            "key": idempotency_key,
            "request_hash": request_hash,
            "status_code": response.status_code,
            "response_body": stored,
            "response_headers": headers,
            "created_at": now,
        }
        stmt = insert(IdempotencyRecord).values(**values)
        # An expired record for the same key is replaced.
        stmt = stmt.on_conflict_do_update(
            index_elements=["principal", "key"],
            set_={k: stmt.excluded[k] for k in values if k not in ("principal", "key")},
        )
        await session.execute(stmt)

    before_commit(request, store)


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        text("DELETE FROM idempotency_records WHERE created_at < :cutoff"),
        {"cutoff": datetime.now(UTC) - TTL},
    )
    return int(getattr(result, "rowcount", 0) or 0)
