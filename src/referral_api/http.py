"""ETags, If-Match and the router factory every domain uses."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from referral_api.db import CommitRoute
from referral_api.errors import PreconditionFailed
from referral_api.query_params import reject_unknown_query_params

NO_STORE = "no-store"


def make_router(prefix: str, tag: str) -> APIRouter:
    """A router whose routes commit at the request boundary and reject unknown query
    parameters."""
    return APIRouter(
        prefix=prefix,
        tags=[tag],
        route_class=CommitRoute,
        dependencies=[Depends(reject_unknown_query_params)],
    )


def etag_for(version: int) -> str:
    return f'"v{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


def check_if_match(request: Request, version: int) -> None:
    """412 when If-Match is present and names no current representation."""
    header = request.headers.get("if-match")
    if header is None:
        return
    tags = [t.strip() for t in header.split(",")]
    current = etag_for(version)
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed(
        f"the resource has changed (current ETag {current}); fetch it again and retry"
    )
