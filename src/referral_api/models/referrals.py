from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from referral_api.models.base import Base, Timestamps, UUIDPk, Versioned

REFERRAL_STATUSES = (
    "sent", "acknowledged", "accepted", "declined", "scheduled", "first_visit_completed",
    "no_show", "completed", "cancelled",
)


class Patient(UUIDPk, Timestamps, Base):
    """PHI. Owned by the sending organization; seen by a receiver through a referral."""

    __tablename__ = "patients"
    __table_args__ = (
        Index("uq_patients_org_external_id", "organization_id", "external_id", unique=True,
              postgresql_where=text("external_id IS NOT NULL")),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    external_id: Mapped[str | None] = mapped_column(String(100))


class Referral(UUIDPk, Timestamps, Versioned, Base):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(f"status IN {REFERRAL_STATUSES}", name="status"),
        CheckConstraint("urgency IN ('routine', 'urgent')", name="urgency"),
        CheckConstraint("case_type IN ('general', 'personal_injury', 'workers_comp')",
                        name="case_type"),
        CheckConstraint("(from_provider_id IS NULL) <> (from_attorney_id IS NULL)",
                        name="one_sender"),
        CheckConstraint("no_remuneration", name="attested"),
        CheckConstraint("completeness_score BETWEEN 0 AND 100", name="score"),
        Index("uq_referrals_sender_external_id", "sender_organization_id", "external_id",
              unique=True, postgresql_where=text("external_id IS NOT NULL")),
        Index("ix_referrals_sender_created", "sender_organization_id", "created_at", "id"),
        Index("ix_referrals_receiver_created", "receiver_organization_id", "created_at", "id"),
    )

    sender_organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id"), nullable=False
    )
    receiver_organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id"), nullable=False
    )
    from_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id")
    )
    from_attorney_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("attorneys.id")
    )
    to_provider_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("providers.id"), nullable=False
    )
    attorney_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("attorneys.id")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("patients.id"), nullable=False
    )
    # Letters of protection arrive with their own tables; until then none can be named.
    letter_of_protection_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    external_id: Mapped[str | None] = mapped_column(String(100))
    urgency: Mapped[str] = mapped_column(String(10), nullable=False)
    case_type: Mapped[str] = mapped_column(String(20), nullable=False)
    note: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    diagnosis_codes: Mapped[list[str]] = mapped_column(ARRAY(String(10)), nullable=False)
    no_remuneration: Mapped[bool] = mapped_column(Boolean, nullable=False)
    attested_by: Mapped[str] = mapped_column(String(80), nullable=False)
    attested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    completeness_score: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    completeness_missing: Mapped[list[str]] = mapped_column(ARRAY(String(60)), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    reply_by: Mapped[date | None] = mapped_column(Date)
    appointment_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Milestones, kept for the metrics: each is set once, when first reached.
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_report_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReferralEvent(Base):
    """Every transition and action on a referral, append-only."""

    __tablename__ = "referral_events"
    __table_args__ = (Index("ix_referral_events_referral_id", "referral_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("referrals.id", ondelete="CASCADE"), nullable=False
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30), nullable=False)
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    actor_organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class ReferralVisit(UUIDPk, Base):
    __tablename__ = "referral_visits"
    __table_args__ = (
        CheckConstraint("kind IN ('initial', 'follow_up')", name="kind"),
        Index("ix_referral_visits_referral_id", "referral_id"),
    )

    referral_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("referrals.id", ondelete="CASCADE"), nullable=False
    )
    date: Mapped[date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    attended: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ReferralReport(UUIDPk, Base):
    __tablename__ = "referral_reports"
    __table_args__ = (
        CheckConstraint("kind IN ('interim', 'outcome')", name="kind"),
        CheckConstraint("goals IS NULL OR goals IN ('met', 'partially_met', 'not_met')",
                        name="goals"),
        CheckConstraint("pain_initial IS NULL OR pain_initial BETWEEN 0 AND 10", name="pain_i"),
        CheckConstraint("pain_discharge IS NULL OR pain_discharge BETWEEN 0 AND 10",
                        name="pain_d"),
        Index("ix_referral_reports_referral_id", "referral_id"),
    )

    referral_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("referrals.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    goals: Mapped[str | None] = mapped_column(String(20))
    pain_initial: Mapped[int | None] = mapped_column(SmallInteger)
    pain_discharge: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditEvent(Base):
    """Who touched which referral or patient, when, and with what outcome — never the PHI.

    Append-only: a trigger (migration 0002) rejects UPDATE and DELETE.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_organization_id", "organization_id", "id"),
        Index("ix_audit_events_subject_orgs", "subject_organization_ids",
              postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    principal: Mapped[str] = mapped_column(String(80), nullable=False)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The organizations the referral belongs to (sender, receiver), so each sees who
    # touched or tried to touch it.
    subject_organization_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), nullable=False
    )
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    request_id: Mapped[str | None] = mapped_column(String(128))
