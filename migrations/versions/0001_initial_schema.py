"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-04 15:44:58.120259
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostGIS for geography columns; btree_gist for the (specialty_id, geog) GiST index.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "idempotency_records",
        sa.Column("principal", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_idempotency_records")),
    )
    op.create_index(
        "ix_idempotency_records_created_at", "idempotency_records", ["created_at"], unique=False
    )
    op.create_table(
        "organizations",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("lop_accepts", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("lop_max_outstanding_cents", sa.BigInteger(), nullable=True),
        sa.Column("lop_policy_text", sa.Text(), nullable=True),
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
            "kind IN ('practice', 'law_firm', 'partner')", name=op.f("ck_organizations_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "api_keys",
        sa.Column("organization_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_api_keys_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(
        op.f("ix_api_keys_organization_id"), "api_keys", ["organization_id"], unique=False
    )
    op.create_table(
        "attorneys",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("bar_number", sa.String(length=30), nullable=False),
        sa.Column("bar_state", sa.String(length=2), nullable=False),
        sa.Column("practice_areas", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("location_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("accepting_clients", sa.Boolean(), nullable=False),
        sa.Column("accepts_lop_cases", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_attorneys_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attorneys")),
        sa.UniqueConstraint("bar_state", "bar_number", name="uq_attorneys_bar"),
    )
    op.create_index(
        "ix_attorneys_name_order", "attorneys", ["last_name", "first_name", "id"], unique=False
    )
    op.create_index(
        op.f("ix_attorneys_organization_id"), "attorneys", ["organization_id"], unique=False
    )
    op.create_index("ix_attorneys_updated_at", "attorneys", ["updated_at", "id"], unique=False)
    op.create_geospatial_table(
        "locations",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("line1", sa.String(length=200), nullable=False),
        sa.Column("line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column(
            "geog",
            Geography(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeogFromText",
                name="geography",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("geocode_precision", sa.String(length=20), nullable=False),
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
            "geocode_precision IN ('exact', 'postal_code')", name=op.f("ck_locations_precision")
        ),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name=op.f("ck_locations_lat_lon")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_locations_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
    )
    op.create_index(
        op.f("ix_locations_organization_id"), "locations", ["organization_id"], unique=False
    )
    op.create_table(
        "providers",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("credentials", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("specialties", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("specialty_codes", postgresql.ARRAY(sa.String(length=10)), nullable=False),
        sa.Column("location_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("conditions_treated", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("services", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("insurance_accepted", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("accepting_referrals", sa.Boolean(), nullable=False),
        sa.Column("accepting_new_patients", sa.Boolean(), nullable=False),
        sa.Column("accepts_lop", sa.Boolean(), nullable=False),
        sa.Column("telehealth", sa.Boolean(), nullable=False),
        sa.Column("profile_status", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_providers_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("npi", name=op.f("uq_providers_npi")),
    )
    op.create_index(
        "ix_providers_name_order", "providers", ["last_name", "first_name", "id"], unique=False
    )
    op.create_index(
        op.f("ix_providers_organization_id"), "providers", ["organization_id"], unique=False
    )
    op.create_index("ix_providers_updated_at", "providers", ["updated_at", "id"], unique=False)
    op.create_geospatial_table(
        "attorney_search_points",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("attorney_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=False),
        sa.Column(
            "geog",
            Geography(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeogFromText",
                name="geography",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("n_locations", sa.SmallInteger(), nullable=False),
        sa.Column("practice_areas", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("full_name", sa.String(length=201), nullable=False),
        sa.Column("accepting_clients", sa.Boolean(), nullable=False),
        sa.Column("accepts_lop_cases", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attorney_id"],
            ["attorneys.id"],
            name=op.f("fk_attorney_search_points_attorney_id_attorneys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_attorney_search_points_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attorney_search_points")),
    )
    op.create_index(
        "ix_attorney_search_points_attorney_id",
        "attorney_search_points",
        ["attorney_id"],
        unique=False,
    )
    op.create_geospatial_index(
        "ix_attorney_search_points_geog",
        "attorney_search_points",
        ["geog"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_attorney_search_points_location_id",
        "attorney_search_points",
        ["location_id"],
        unique=False,
    )
    op.create_geospatial_table(
        "provider_search_points",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.UUID(), nullable=False),
        sa.Column("location_id", sa.UUID(), nullable=False),
        sa.Column("specialty_id", sa.SmallInteger(), nullable=False),
        sa.Column(
            "geog",
            Geography(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeogFromText",
                name="geography",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("n_locations", sa.SmallInteger(), nullable=False),
        sa.Column("insurance", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("conditions", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("full_name", sa.String(length=201), nullable=False),
        sa.Column("accepting_referrals", sa.Boolean(), nullable=False),
        sa.Column("accepting_new_patients", sa.Boolean(), nullable=False),
        sa.Column("accepts_lop", sa.Boolean(), nullable=False),
        sa.Column("telehealth", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_provider_search_points_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_search_points_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_search_points")),
    )
    op.create_index(
        "ix_provider_search_points_location_id",
        "provider_search_points",
        ["location_id"],
        unique=False,
    )
    op.create_index(
        "ix_provider_search_points_provider_id",
        "provider_search_points",
        ["provider_id"],
        unique=False,
    )
    op.create_index(
        "ix_provider_search_points_specialty_geog",
        "provider_search_points",
        ["specialty_id", "geog"],
        unique=False,
        postgresql_using="gist",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_provider_search_points_specialty_geog",
        table_name="provider_search_points",
        postgresql_using="gist",
    )
    op.drop_index("ix_provider_search_points_provider_id", table_name="provider_search_points")
    op.drop_index("ix_provider_search_points_location_id", table_name="provider_search_points")
    op.drop_geospatial_table("provider_search_points")
    op.drop_index("ix_attorney_search_points_location_id", table_name="attorney_search_points")
    op.drop_geospatial_index(
        "ix_attorney_search_points_geog",
        table_name="attorney_search_points",
        postgresql_using="gist",
        column_name="geog",
    )
    op.drop_index("ix_attorney_search_points_attorney_id", table_name="attorney_search_points")
    op.drop_geospatial_table("attorney_search_points")
    op.drop_index("ix_providers_updated_at", table_name="providers")
    op.drop_index(op.f("ix_providers_organization_id"), table_name="providers")
    op.drop_index("ix_providers_name_order", table_name="providers")
    op.drop_table("providers")
    op.drop_index(op.f("ix_locations_organization_id"), table_name="locations")
    op.drop_geospatial_table("locations")
    op.drop_index("ix_attorneys_updated_at", table_name="attorneys")
    op.drop_index(op.f("ix_attorneys_organization_id"), table_name="attorneys")
    op.drop_index("ix_attorneys_name_order", table_name="attorneys")
    op.drop_table("attorneys")
    op.drop_index(op.f("ix_api_keys_organization_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("organizations")
    op.drop_index("ix_idempotency_records_created_at", table_name="idempotency_records")
    op.drop_table("idempotency_records")
