"""All tables, on one metadata (Alembic imports this package)."""

from referral_api.models.base import Base
from referral_api.models.directory import (
    Attorney,
    AttorneySearchPoint,
    Provider,
    ProviderSearchPoint,
)
from referral_api.models.organizations import ApiKey, Location, Organization
from referral_api.models.platform import IdempotencyRecord

__all__ = [
    "ApiKey",
    "Attorney",
    "AttorneySearchPoint",
    "Base",
    "IdempotencyRecord",
    "Location",
    "Organization",
    "Provider",
    "ProviderSearchPoint",
]
