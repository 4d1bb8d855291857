"""Test harness: a real PostgreSQL + PostGIS per run, migrated with Alembic.

With REFERRAL_API_TEST_DATABASE_URL (a server URL whose user may create databases) a
fresh database is created there; otherwise a throwaway embedded cluster is started in a
temporary directory and removed afterwards. Tables are truncated before each test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from referral_api import migrations
from referral_api.config import Settings
from referral_api.db import normalize_url
from referral_api.embedded import EmbeddedCluster
from referral_api.main import create_app
from tests.factories import Api

KEEP_TABLES = {"alembic_version", "spatial_ref_sys"}


def _admin_url(url: str, database: str) -> str:
    return make_url(normalize_url(url)).set(database=database).render_as_string(
        hide_password=False
    )


async def _create_database(server_url: str, name: str) -> None:
    engine = create_async_engine(_admin_url(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


async def _drop_database(server_url: str, name: str) -> None:
    engine = create_async_engine(_admin_url(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    given = os.environ.get("REFERRAL_API_TEST_DATABASE_URL")
    if given:
        yield given
        return
    tmp = Path(tempfile.mkdtemp(prefix="referral-api-test-"))
    os.chmod(tmp, 0o755)
    cluster = EmbeddedCluster(
        tmp / "cluster",
        server_options={"fsync": "off", "synchronous_commit": "off",
                        "full_page_writes": "off"},
    )
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"referral_test_{secrets.token_hex(4)}"
    asyncio.run(_create_database(server_url, name))
    url = _admin_url(server_url, name)
    migrations.upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(_drop_database(server_url, name))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, log_level="WARNING")


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(normalize_url(database_url))
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
async def tables(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        return sorted(r[0] for r in rows if r[0] not in KEEP_TABLES)


@pytest.fixture(autouse=True)
async def _clean(engine: AsyncEngine, tables: list[str]) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def api(client: httpx.AsyncClient, database_url: str) -> Api:
    return await Api.bootstrap(client, database_url)
