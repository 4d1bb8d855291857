from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.models.base import Base, Timestamps, UUIDPk, Versioned

ORGANIZATION_KINDS = ("practice", "law_firm", "partner")


class Organization(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(f"kind IN {ORGANIZATION_KINDS}", name="kind"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    npi: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(32))
    website: Mapped[str | None] = mapped_column(String(500))
    lop_accepts: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                              server_default="false")
    lop_max_outstanding_cents: Mapped[int | None] = mapped_column(BigInteger)
    lop_policy_text: Mapped[str | None] = mapped_column(Text)


class ApiKey(UUIDPk, Base):
    __tablename__ = "api_keys"

    # NULL for the platform operator's keys.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # The first characters of the key, shown in listings so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    # SHA-256 of the full key: keys are 256-bit random, so a fast hash is safe to store.
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Location(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "locations"
    __table_args__ = (
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="lat_lon"),
        CheckConstraint("geocode_precision IN ('exact', 'postal_code')", name="precision"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True,
        nullable=False,
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    line1: Mapped[str] = mapped_column(String(200), nullable=False)
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100), nullable=False)
    state: Mapped[str] = mapped_column(String(2), nullable=False)
    postal_code: Mapped[str] = mapped_column(String(10), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    geog: Mapped[str] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=False
    )
    geocode_precision: Mapped[str] = mapped_column(String(20), nullable=False)
