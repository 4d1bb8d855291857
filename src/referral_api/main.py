"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from sqlalchemy import text

from referral_api import __version__, geo, migrations
from referral_api.audit.router import router as audit_router
from referral_api.auth.router import router as auth_router
from referral_api.config import Settings, get_settings
from referral_api.db import make_engine, make_sessionmaker
from referral_api.directory.router import router as directory_router
from referral_api.errors import PROBLEM_JSON, Problem, install_error_handlers, problem_response
from referral_api.idempotency import IdempotentReplay, replay_response
from referral_api.observability import (
    RequestContextMiddleware,
    configure_logging,
    metrics_payload,
)
from referral_api.organizations.router import router as organizations_router
from referral_api.referrals import clinical
from referral_api.referrals.router import router as referrals_router

log = logging.getLogger("referral_api")

DESCRIPTION = """Referral network for conservative-care providers and personal-injury attorneys.

Errors are RFC 9457 `application/problem+json`. Lists are `{items, next_cursor}`.
Creating POSTs accept `Idempotency-Key`; single resources carry `ETag`, and PATCH honours
`If-Match`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise RuntimeError(
            "REFERRAL_API_DATABASE_URL is not set: start the service with `referral-api serve`, "
            "which starts the embedded PostgreSQL when no URL is given"
        )
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        clinical.warm_up()  # the ICD-10-CM code set and ZIP table load once, not per request
        geo.all_zip_centroids()
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPIOffline(
        title="Referral network API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        separate_input_output_schemas=True,
    )
    app.state.settings = settings
    install_error_handlers(app)

    @app.exception_handler(IdempotentReplay)
    async def _replay(_: Request, exc: IdempotentReplay) -> Response:
        return replay_response(exc)

    app.include_router(organizations_router)
    app.include_router(auth_router)
    app.include_router(directory_router)
    app.include_router(referrals_router)
    app.include_router(audit_router)
    _add_operational_routes(app)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match",
                           "X-Request-ID"],
            expose_headers=["ETag", "Location", "X-Request-ID", "Idempotent-Replayed",
                            "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_operational_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], operation_id="operations-healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz", tags=["operations"], operation_id="operations-readyz",
        responses={503: {"description": "Not ready", "model": Problem}},
    )
    async def readyz(request: Request) -> Any:
        """The database answers and its schema is at the migrations' head."""
        try:
            async with request.app.state.engine.connect() as conn:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except Exception as exc:
            log.warning("not ready: database unreachable (%s)", type(exc).__name__)
            return problem_response(503, "Service unavailable", "the database is unreachable",
                                    type_="service-unavailable")
        current = frozenset(r[0] for r in rows)
        if current != migrations.head_revisions():
            return problem_response(503, "Service unavailable",
                                    "database migrations are not at head; run `referral-api "
                                    "migrate`", type_="service-unavailable")
        return {"status": "ready"}

    @app.get("/metrics", tags=["operations"], operation_id="operations-metrics",
             response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text format"}})
    async def metrics() -> Response:
        """Prometheus metrics."""
        payload, content_type = metrics_payload()
        return Response(payload, media_type=content_type)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes,
        separate_input_output_schemas=True,
    )
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "requestBody" in operation:
                # Bodies that are not UTF-8 JSON are a 400; bodies over the limit a 413.
                responses.setdefault("400", {"description": "Malformed request body"})
                responses.setdefault("413", {"description": "Request body too large"})
            for code, response in list(responses.items()):
                if code == "422" or (code.isdigit() and int(code) >= 400):
                    responses[code] = {
                        "description": response.get("description") or "Problem",
                        "content": {PROBLEM_JSON: {"schema": problem_ref}},
                    }
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = components["Problem"].pop("$defs", {})
    components.update(defs)
    app.openapi_schema = schema
    return schema


