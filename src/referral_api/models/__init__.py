"""All tables, on one metadata (Alembic imports this package)."""

from referral_api.models.base import Base
from referral_api.models.directory import (
    Attorney,
    AttorneySearchPoint,
    Provider,
    ProviderSearchPoint,
)
from referral_api.models.organizations import ApiKey, Location, Organization
from referral_api.models.people import AuthToken, LoginThrottle, User
from referral_api.models.platform import IdempotencyRecord
from referral_api.models.referrals import (
    AuditEvent,
    Patient,
    Referral,
    ReferralEvent,
    ReferralReport,
    ReferralVisit,
)

__all__ = [
    "ApiKey",
    "Attorney",
    "AttorneySearchPoint",
    "AuditEvent",
    "AuthToken",
    "Base",
    "IdempotencyRecord",
    "Location",
    "LoginThrottle",
    "Organization",
    "Patient",
    "Provider",
    "ProviderSearchPoint",
    "Referral",
    "ReferralEvent",
    "ReferralReport",
    "ReferralVisit",
    "User",
]
