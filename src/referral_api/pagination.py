"""Keyset cursors and the list envelope ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from referral_api.errors import ValidationFailed

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def query_fingerprint(params: dict[str, Any]) -> str:
    """A short hash of the filters a cursor was made for; a cursor is only valid for them."""
    canonical = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(position: list[Any], fingerprint: str) -> str:
    raw = json.dumps({"p": position, "q": fingerprint}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str, length: int) -> list[Any]:
    """Return the position stored in `cursor`, or 422 if it is malformed or made for
    other filters."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        position = data["p"]
        ok = isinstance(position, list) and len(position) == length
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise ValidationFailed(
            "cursor is not valid", errors=[("/query/cursor", "malformed cursor")]
        )
    if data.get("q") != fingerprint:
        raise ValidationFailed(
            "cursor was issued for different filters",
            errors=[("/query/cursor", "cursor does not match these query parameters")],
        )
    return list(position)


def id_cursor(cursor: str | None, fingerprint: str) -> uuid.UUID | None:
    """Decode a cursor over a list ordered by id."""
    if cursor is None:
        return None
    (raw,) = decode_cursor(cursor, fingerprint, 1)
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise ValidationFailed(
            "cursor is not valid", errors=[("/query/cursor", "malformed cursor")]
        ) from None


def id_page(items: list[T], ids: list[uuid.UUID], limit: int, fingerprint: str) -> Page[T]:
    """Page over `limit + 1` fetched rows ordered by id."""
    more = len(items) > limit
    return Page[T](
        items=items[:limit],
        next_cursor=encode_cursor([str(ids[limit - 1])], fingerprint) if more else None,
    )
