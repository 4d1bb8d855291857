from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.models.base import Base, Timestamps, UUIDPk, Versioned

TextArray = ARRAY(String(100))


class Provider(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "providers"
    __table_args__ = (
        Index("ix_providers_name_order", "last_name", "first_name", "id"),
        Index("ix_providers_updated_at", "updated_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True,
        nullable=False,
    )
    npi: Mapped[str] = mapped_column(String(10), nullable=False, unique=True)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    credentials: Mapped[list[str]] = mapped_column(TextArray, nullable=False, default=list)
    # [{"code": "111N00000X", "primary": true}, ...]
    specialties: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    specialty_codes: Mapped[list[str]] = mapped_column(ARRAY(String(10)), nullable=False)
    location_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), nullable=False
    )
    conditions_treated: Mapped[list[str]] = mapped_column(TextArray, nullable=False, default=list)
    services: Mapped[list[str]] = mapped_column(TextArray, nullable=False, default=list)
    insurance_accepted: Mapped[list[str]] = mapped_column(TextArray, nullable=False, default=list)
    languages: Mapped[list[str]] = mapped_column(TextArray, nullable=False, default=list)
    accepting_referrals: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    accepting_new_patients: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    accepts_lop: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    telehealth: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    profile_status: Mapped[str] = mapped_column(String(20), nullable=False, default="listed")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProviderSearchPoint(Base):
    """One row per (provider, location, specialty) plus a specialty 0 row meaning "any".

    Denormalized so the radius search is a single GiST KNN scan on
    (specialty_id, geog); rewritten whenever the provider or its locations change.
    """

    __tablename__ = "provider_search_points"
    __table_args__ = (
        Index(
            "ix_provider_search_points_specialty_geog", "specialty_id", "geog",
            postgresql_using="gist",
        ),
        Index("ix_provider_search_points_provider_id", "provider_id"),
        Index("ix_provider_search_points_location_id", "location_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id", ondelete="CASCADE"), nullable=False
    )
    location_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("locations.id", ondelete="CASCADE"), nullable=False
    )
    specialty_id: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    geog: Mapped[str] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=False
    )
    n_locations: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    insurance: Mapped[list[str]] = mapped_column(TextArray, nullable=False)
    languages: Mapped[list[str]] = mapped_column(TextArray, nullable=False)
    conditions: Mapped[list[str]] = mapped_column(TextArray, nullable=False)
    full_name: Mapped[str] = mapped_column(String(201), nullable=False)
    accepting_referrals: Mapped[bool] = mapped_column(Boolean, nullable=False)
    accepting_new_patients: Mapped[bool] = mapped_column(Boolean, nullable=False)
    accepts_lop: Mapped[bool] = mapped_column(Boolean, nullable=False)
    telehealth: Mapped[bool] = mapped_column(Boolean, nullable=False)


class Attorney(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "attorneys"
    __table_args__ = (
        UniqueConstraint("bar_state", "bar_number", name="uq_attorneys_bar"),
        Index("ix_attorneys_name_order", "last_name", "first_name", "id"),
        Index("ix_attorneys_updated_at", "updated_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True,
        nullable=False,
    )
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    bar_number: Mapped[str] = mapped_column(String(30), nullable=False)
    bar_state: Mapped[str] = mapped_column(String(2), nullable=False)
    practice_areas: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)
    location_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), nullable=False
    )
    languages: Mapped[list[str]] = mapped_column(TextArray, nullable=False, default=list)
    accepting_clients: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    accepts_lop_cases: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AttorneySearchPoint(Base):
    """One row per (attorney, location); attorneys are few, a plain GiST index suffices."""

    __tablename__ = "attorney_search_points"
    __table_args__ = (
        Index("ix_attorney_search_points_geog", "geog", postgresql_using="gist"),
        Index("ix_attorney_search_points_attorney_id", "attorney_id"),
        Index("ix_attorney_search_points_location_id", "location_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    attorney_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("attorneys.id", ondelete="CASCADE"), nullable=False
    )
    location_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("locations.id", ondelete="CASCADE"), nullable=False
    )
    geog: Mapped[str] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=False
    )
    n_locations: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    practice_areas: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)
    languages: Mapped[list[str]] = mapped_column(TextArray, nullable=False)
    full_name: Mapped[str] = mapped_column(String(201), nullable=False)
    accepting_clients: Mapped[bool] = mapped_column(Boolean, nullable=False)
    accepts_lop_cases: Mapped[bool] = mapped_column(Boolean, nullable=False)


