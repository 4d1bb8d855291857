"""Migrations go up, down and up again, and match the models exactly."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from referral_api import migrations
from referral_api.db import normalize_url
from referral_api.migrations import include_object
from referral_api.models import Base
from tests.conftest import _admin_url, _create_database, _drop_database

FOREIGN = migrations.FOREIGN_TABLES


@pytest.fixture
def scratch_url(server_url: str) -> Iterator[str]:
    name = f"referral_migrate_{secrets.token_hex(4)}"
    asyncio.run(_create_database(server_url, name))
    try:
        yield _admin_url(server_url, name)
    finally:
        asyncio.run(_drop_database(server_url, name))


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(normalize_url(url))
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        names = {r[0] for r in rows}
    await engine.dispose()
    return names - FOREIGN


async def _diff(url: str) -> list[object]:
    engine = create_async_engine(normalize_url(url))
    async with engine.connect() as conn:
        def compare(sync_conn):  # type: ignore[no-untyped-def]
            ctx = MigrationContext.configure(
                sync_conn, opts={"include_object": include_object, "compare_type": True})
            return compare_metadata(ctx, Base.metadata)

        diff = await conn.run_sync(compare)
    await engine.dispose()
    return list(diff)


def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    migrations.upgrade(scratch_url)
    assert "providers" in asyncio.run(_tables(scratch_url))
    migrations.downgrade(scratch_url, "base")
    assert asyncio.run(_tables(scratch_url)) <= {"alembic_version"}
    migrations.upgrade(scratch_url)
    assert {"providers", "attorneys", "organizations", "api_keys"} <= asyncio.run(
        _tables(scratch_url))


def test_autogenerate_finds_no_drift(scratch_url: str) -> None:
    migrations.upgrade(scratch_url)
    assert asyncio.run(_diff(scratch_url)) == []
