"""What each member role may do: the one table of it (mirrored in the README)."""

from __future__ import annotations

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({
        "directory:read", "directory:write", "referrals:read", "referrals:write", "lop:read",
        "lop:write", "metrics:read", "org:admin", "webhooks:manage",
    }),
    "clinician": frozenset({
        "directory:read", "directory:write", "referrals:read", "referrals:write", "lop:read",
        "metrics:read",
    }),
    "staff": frozenset({
        "directory:read", "directory:write", "referrals:read", "referrals:write", "lop:read",
    }),
    "billing": frozenset({"directory:read", "referrals:read", "lop:read", "lop:write",
                          "metrics:read"}),
    "viewer": frozenset({"directory:read", "referrals:read", "lop:read", "metrics:read"}),
}
