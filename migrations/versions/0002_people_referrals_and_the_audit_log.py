"""people, referrals and the audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:00:34.985626
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


AUDIT_APPEND_ONLY = (
    """CREATE FUNCTION audit_events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change()""",
)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(length=80), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=True),
        sa.Column("subject_organization_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("referral_id", sa.UUID(), nullable=True),
        sa.Column("patient_id", sa.UUID(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        "ix_audit_events_organization_id", "audit_events", ["organization_id", "id"], unique=False
    )
    op.create_index(
        "ix_audit_events_subject_orgs",
        "audit_events",
        ["subject_organization_ids"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "patients",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_patients_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_index(
        "uq_patients_org_external_id",
        "patients",
        ["organization_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_table(
        "users",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_lower", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'clinician', 'staff', 'billing', 'viewer')",
            name=op.f("ck_users_role"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_users_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_organization_id"), "users", ["organization_id"], unique=False)
    op.create_index("uq_users_email_lower", "users", ["email_lower"], unique=True)
    op.create_table(
        "auth_tokens",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("family_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("kind IN ('access', 'refresh')", name=op.f("ck_auth_tokens_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_tokens_token_hash")),
    )
    op.create_index("ix_auth_tokens_family_id", "auth_tokens", ["family_id"], unique=False)
    op.create_index(op.f("ix_auth_tokens_user_id"), "auth_tokens", ["user_id"], unique=False)
    op.create_table(
        "referrals",
        sa.Column("sender_organization_id", sa.UUID(), nullable=False),
        sa.Column("receiver_organization_id", sa.UUID(), nullable=False),
        sa.Column("from_provider_id", sa.UUID(), nullable=True),
        sa.Column("from_attorney_id", sa.UUID(), nullable=True),
        sa.Column("to_provider_id", sa.UUID(), nullable=False),
        sa.Column("attorney_id", sa.UUID(), nullable=True),
        sa.Column("patient_id", sa.UUID(), nullable=False),
        sa.Column("letter_of_protection_id", sa.UUID(), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("case_type", sa.String(length=20), nullable=False),
        sa.Column("note", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("diagnosis_codes", postgresql.ARRAY(sa.String(length=10)), nullable=False),
        sa.Column("no_remuneration", sa.Boolean(), nullable=False),
        sa.Column("attested_by", sa.String(length=80), nullable=False),
        sa.Column("attested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completeness_score", sa.SmallInteger(), nullable=False),
        sa.Column("completeness_missing", postgresql.ARRAY(sa.String(length=60)), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("reply_by", sa.Date(), nullable=True),
        sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_report_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "case_type IN ('general', 'personal_injury', 'workers_comp')",
            name=op.f("ck_referrals_case_type"),
        ),
        sa.CheckConstraint(
            "status IN ('sent', 'acknowledged', 'accepted', 'declined', 'scheduled', "
            "'first_visit_completed', 'no_show', 'completed', 'cancelled')",
            name=op.f("ck_referrals_status"),
        ),
        sa.CheckConstraint("urgency IN ('routine', 'urgent')", name=op.f("ck_referrals_urgency")),
        sa.CheckConstraint(
            "(from_provider_id IS NULL) <> (from_attorney_id IS NULL)",
            name=op.f("ck_referrals_one_sender"),
        ),
        sa.CheckConstraint("completeness_score BETWEEN 0 AND 100", name=op.f("ck_referrals_score")),
        sa.CheckConstraint("no_remuneration", name=op.f("ck_referrals_attested")),
        sa.ForeignKeyConstraint(
            ["attorney_id"], ["attorneys.id"], name=op.f("fk_referrals_attorney_id_attorneys")
        ),
        sa.ForeignKeyConstraint(
            ["from_attorney_id"],
            ["attorneys.id"],
            name=op.f("fk_referrals_from_attorney_id_attorneys"),
        ),
        sa.ForeignKeyConstraint(
            ["from_provider_id"],
            ["providers.id"],
            name=op.f("fk_referrals_from_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_referrals_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["receiver_organization_id"],
            ["organizations.id"],
            name=op.f("fk_referrals_receiver_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_organization_id"],
            ["organizations.id"],
            name=op.f("fk_referrals_sender_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["to_provider_id"], ["providers.id"], name=op.f("fk_referrals_to_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    op.create_index(
        "ix_referrals_receiver_created",
        "referrals",
        ["receiver_organization_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_referrals_sender_created",
        "referrals",
        ["sender_organization_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "uq_referrals_sender_external_id",
        "referrals",
        ["sender_organization_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_table(
        "referral_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.UUID(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_status", sa.String(length=30), nullable=True),
        sa.Column("to_status", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("actor_organization_id", sa.UUID(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_events_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_events")),
    )
    op.create_index(
        "ix_referral_events_referral_id", "referral_events", ["referral_id", "id"], unique=False
    )
    op.create_table(
        "referral_reports",
        sa.Column("referral_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("goals", sa.String(length=20), nullable=True),
        sa.Column("pain_initial", sa.SmallInteger(), nullable=True),
        sa.Column("pain_discharge", sa.SmallInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "goals IS NULL OR goals IN ('met', 'partially_met', 'not_met')",
            name=op.f("ck_referral_reports_goals"),
        ),
        sa.CheckConstraint("kind IN ('interim', 'outcome')", name=op.f("ck_referral_reports_kind")),
        sa.CheckConstraint(
            "pain_discharge IS NULL OR pain_discharge BETWEEN 0 AND 10",
            name=op.f("ck_referral_reports_pain_d"),
        ),
        sa.CheckConstraint(
            "pain_initial IS NULL OR pain_initial BETWEEN 0 AND 10",
            name=op.f("ck_referral_reports_pain_i"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_reports_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_reports")),
    )
    op.create_index(
        "ix_referral_reports_referral_id", "referral_reports", ["referral_id"], unique=False
    )
    op.create_table(
        "referral_visits",
        sa.Column("referral_id", sa.UUID(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('initial', 'follow_up')", name=op.f("ck_referral_visits_kind")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_visits_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_visits")),
    )
    op.create_index(
        "ix_referral_visits_referral_id", "referral_visits", ["referral_id"], unique=False
    )
    # The audit log is append-only: no UPDATE or DELETE gets through, whoever asks.
    for statement in AUDIT_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_reject_change()")
    op.drop_index("ix_referral_visits_referral_id", table_name="referral_visits")
    op.drop_table("referral_visits")
    op.drop_index("ix_referral_reports_referral_id", table_name="referral_reports")
    op.drop_table("referral_reports")
    op.drop_index("ix_referral_events_referral_id", table_name="referral_events")
    op.drop_table("referral_events")
    op.drop_index(
        "uq_referrals_sender_external_id",
        table_name="referrals",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_index("ix_referrals_sender_created", table_name="referrals")
    op.drop_index("ix_referrals_receiver_created", table_name="referrals")
    op.drop_table("referrals")
    op.drop_index(op.f("ix_auth_tokens_user_id"), table_name="auth_tokens")
    op.drop_index("ix_auth_tokens_family_id", table_name="auth_tokens")
    op.drop_table("auth_tokens")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_index(op.f("ix_users_organization_id"), table_name="users")
    op.drop_table("users")
    op.drop_index(
        "uq_patients_org_external_id",
        table_name="patients",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_table("patients")
    op.drop_table("login_throttle")
    op.drop_index("ix_audit_events_subject_orgs", table_name="audit_events", postgresql_using="gin")
    op.drop_index("ix_audit_events_organization_id", table_name="audit_events")
    op.drop_table("audit_events")
