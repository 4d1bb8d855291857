"""Cross-cutting behaviour: idempotency, errors, limits, health, metrics, logs."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from referral_api.config import Settings
from referral_api.main import create_app
from tests.factories import Api, Org, next_npi


def provider_body(location_id: str, **extra: object) -> dict[str, object]:
    return {"npi": next_npi(), "first_name": "Ida", "last_name": "Empotent",
            "specialties": [{"code": "225100000X"}], "location_ids": [location_id], **extra}


async def _key_id(api: Api, org: Org) -> str:
    keys = await api.client.get(f"/v1/organizations/{org.id}/api-keys", headers=org.headers)
    return str(keys.json()["items"][0]["id"])


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


class TestIdempotency:
    async def test_replay_returns_first_response(self, api: Api, engine: AsyncEngine) -> None:
        org = await api.org()
        loc = await api.location(org)
        body = provider_body(loc["id"])
        headers = {**org.headers, "Idempotency-Key": "retry-1"}
        first = await api.client.post("/v1/providers", json=body, headers=headers)
        second = await api.client.post("/v1/providers", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["etag"] == first.headers["etag"]
        assert second.headers["idempotent-replayed"] == "true"
        assert await _count(engine, "providers") == 1

    async def test_same_key_different_body_is_422(self, api: Api, engine: AsyncEngine) -> None:
        org = await api.org()
        loc = await api.location(org)
        headers = {**org.headers, "Idempotency-Key": "retry-2"}
        r = await api.client.post("/v1/providers", json=provider_body(loc["id"]),
                                  headers=headers)
        assert r.status_code == 201
        r = await api.client.post("/v1/providers", json=provider_body(loc["id"]),
                                  headers=headers)
        assert r.status_code == 422
        assert await _count(engine, "providers") == 1

    async def test_keys_are_per_principal(self, api: Api, engine: AsyncEngine) -> None:
        a, b = await api.org(), await api.org()
        la, lb = await api.location(a), await api.location(b)
        r1 = await api.client.post("/v1/providers", json=provider_body(la["id"]),
                                   headers={**a.headers, "Idempotency-Key": "k"})
        r2 = await api.client.post("/v1/providers", json=provider_body(lb["id"]),
                                   headers={**b.headers, "Idempotency-Key": "k"})
        assert r1.status_code == r2.status_code == 201
        assert r1.json()["id"] != r2.json()["id"]

    async def test_in_flight_duplicate_is_409(self, api: Api, engine: AsyncEngine) -> None:
        org = await api.org()
        loc = await api.location(org)
        key_id = await _key_id(api, org)
        # Stand in for a first request that is still running: hold its lock.
        async with engine.connect() as conn, conn.begin():
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"),
                               {"k": f"api_key:{key_id}\nslow"})
            r = await api.client.post("/v1/providers", json=provider_body(loc["id"]),
                                      headers={**org.headers, "Idempotency-Key": "slow"})
            assert r.status_code == 409
        assert await _count(engine, "providers") == 0

    async def test_concurrent_identical_creates_make_one(self, api: Api,
                                                          engine: AsyncEngine) -> None:
        org = await api.org()
        loc = await api.location(org)
        body = provider_body(loc["id"])
        headers = {**org.headers, "Idempotency-Key": "burst"}
        results = await asyncio.gather(
            *[api.client.post("/v1/providers", json=body, headers=headers) for _ in range(20)]
        )
        statuses = sorted({r.status_code for r in results})
        assert set(statuses) <= {201, 409}, statuses
        created = [r.json() for r in results if r.status_code == 201]
        assert created
        assert all(c == created[0] for c in created)
        assert await _count(engine, "providers") == 1

    async def test_failed_request_is_not_stored(self, api: Api, engine: AsyncEngine) -> None:
        org = await api.org()
        loc = await api.location(org)
        headers = {**org.headers, "Idempotency-Key": "fix-and-retry"}
        bad = provider_body(loc["id"], npi="1234567890")
        assert (await api.client.post("/v1/providers", json=bad,
                                      headers=headers)).status_code == 422
        good = await api.client.post("/v1/providers", json=provider_body(loc["id"]),
                                     headers=headers)
        assert good.status_code == 201


class TestErrors:
    async def test_unknown_route_and_method_are_problems(self, api: Api) -> None:
        r = await api.client.get("/v1/nope")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        r = await api.client.put("/v1/providers")
        assert r.status_code == 405
        assert r.json()["status"] == 405

    async def test_malformed_json_is_a_problem(self, api: Api) -> None:
        org = await api.org()
        r = await api.client.post("/v1/providers", content=b'{"npi": ',
                                  headers={**org.headers, "Content-Type": "application/json"})
        assert r.status_code in (400, 422)
        assert r.headers["content-type"] == "application/problem+json"

    async def test_duplicate_npi_is_409(self, api: Api) -> None:
        org = await api.org()
        loc = await api.location(org)
        body = provider_body(loc["id"])
        assert (await api.client.post("/v1/providers", json=body,
                                      headers=org.headers)).status_code == 201
        r = await api.client.post("/v1/providers", json=body, headers=org.headers)
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"

    async def test_bad_npi_check_digit_is_422(self, api: Api) -> None:
        org = await api.org()
        loc = await api.location(org)
        r = await api.client.post("/v1/providers",
                                  json=provider_body(loc["id"], npi="1234567890"),
                                  headers=org.headers)
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"] == "/body/npi"

    async def test_too_large_body_is_413(self, api: Api) -> None:
        org = await api.org()
        huge = {"name": "x" * 2_000_000, "kind": "practice"}
        r = await api.client.post("/v1/organizations", json=huge, headers=api.platform)
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(40):
                yield b"x" * 65536

        r = await api.client.post("/v1/organizations", content=chunks(),
                                  headers={**org.headers, "Content-Type": "application/json"})
        assert r.status_code == 413

    async def test_string_limits_are_422_not_500(self, api: Api) -> None:
        org = await api.org()
        loc = await api.location(org)
        r = await api.client.post("/v1/providers",
                                  json=provider_body(loc["id"], first_name="x" * 500),
                                  headers=org.headers)
        assert r.status_code == 422


class TestOperations:
    async def test_health_and_ready(self, api: Api) -> None:
        assert (await api.client.get("/healthz")).json() == {"status": "ok"}
        assert (await api.client.get("/readyz")).status_code == 200

    async def test_ready_is_503_when_migrations_behind(self, api: Api,
                                                       engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))
                       ).scalar_one()
            await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
        try:
            r = await api.client.get("/readyz")
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
        finally:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE alembic_version SET version_num = :v"),
                                   {"v": current})

    async def test_ready_is_503_when_database_is_down(self) -> None:
        import httpx

        app = create_app(Settings(
            database_url="postgresql+asyncpg://nobody:x@127.0.0.1:1/none", log_level="ERROR"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                assert (await c.get("/readyz")).status_code == 503
                assert (await c.get("/healthz")).status_code == 200

    async def test_metrics_are_prometheus_text(self, api: Api) -> None:
        await api.client.get("/v1/specialties")
        r = await api.client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        assert 'referral_api_requests_total{method="GET",route="/v1/specialties"' in r.text

    async def test_request_id_echoed(self, api: Api) -> None:
        r = await api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        r = await api.client.get("/healthz", headers={"X-Request-ID": "bad id\n"})
        assert r.headers["x-request-id"] != "bad id\n"

    async def test_docs_render_without_cdn(self, api: Api) -> None:
        r = await api.client.get("/docs")
        assert r.status_code == 200
        assert "cdn.jsdelivr.net" not in r.text
        assert "unpkg.com" not in r.text


class TestLogs:
    async def test_logs_are_json_with_request_id_and_no_query_strings(
        self, api: Api, caplog: pytest.LogCaptureFixture
    ) -> None:
        from referral_api.observability import JsonFormatter

        caplog.set_level(logging.INFO, logger="referral_api.access")
        await api.client.get("/v1/providers", params={"q": "CanaryName"},
                             headers={"X-Request-ID": "log-check"})
        records = [r for r in caplog.records if r.name == "referral_api.access"]
        assert records
        lines = [JsonFormatter().format(r) for r in records]
        for line in lines:
            entry = json.loads(line)
            assert entry["route"] == "/v1/providers"
            assert "CanaryName" not in line


class TestCors:
    async def test_cors_only_for_configured_origins(self, settings: Settings) -> None:
        import httpx

        app = create_app(settings.model_copy(update={"cors_origins": "https://app.example"}))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            pre = await c.options("/v1/providers", headers={
                "Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
            assert pre.headers["access-control-allow-origin"] == "https://app.example"
            other = await c.get("/healthz", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers


class TestLostConnection:
    async def test_dead_pooled_connection_is_503_then_recovers(
        self, settings: Settings, engine: AsyncEngine
    ) -> None:
        import httpx

        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                async with engine.connect() as conn:
                    since = (await conn.execute(text("SELECT now()"))).scalar_one()
                assert (await c.get("/v1/providers")).status_code == 200
                # The server drops the connection this app just pooled (a restart or
                # failover looks like this to the pool).
                async with engine.connect() as conn:
                    killed = (await conn.execute(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_start >= :since"), {"since": since})).scalar_one()
                assert killed >= 1
                lost = await c.get("/v1/providers")
                assert lost.status_code == 503
                assert lost.headers["content-type"] == "application/problem+json"
                assert lost.headers["retry-after"] == "1"
                assert (await c.get("/v1/providers")).status_code == 200
