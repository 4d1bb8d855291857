"""Engine factory, the request session and the single commit point."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from referral_api.config import Settings
from referral_api.errors import Conflict, ServiceUnavailable, ValidationFailed

log = logging.getLogger("referral_api.db")


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and point them at asyncpg."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://",
                   "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def make_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    return create_async_engine(
        normalize_url(url or settings.database_url or ""),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        # No pre-ping: with asyncpg it costs three statements on every checkout (a sixth
        # of a directory search's CPU). A connection that died with its server surfaces
        # as a 503 the client retries (see dbapi_to_api_error); recycling bounds the age.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={
            # Search statements are short index scans: JIT compilation and parallel
            # workers only add latency there, and the service runs no analytics that
            # would need them per connection.
            "server_settings": {"jit": "off", "max_parallel_workers_per_gather": "0"},
            "command_timeout": 60,
        },
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session. CommitRoute commits it before the response is sent."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        request.state.session = session
        yield session


def integrity_to_api_error(exc: IntegrityError) -> Conflict | ValidationFailed:
    orig = getattr(exc, "orig", None)
    sqlstate = _sqlstate(exc)
    constraint = getattr(getattr(orig, "__cause__", None), "constraint_name", None)
    if sqlstate == "23503":  # foreign key
        return ValidationFailed("a referenced object does not exist")
    if sqlstate == "23514":  # check constraint
        return ValidationFailed(f"a value is out of range ({constraint or 'check'})")
    return Conflict(f"conflicts with an existing object ({constraint or 'unique constraint'})")


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "__cause__", None), "sqlstate", None
    )


def dbapi_to_api_error(exc: DBAPIError) -> Exception:
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return ServiceUnavailable("the database connection was lost; retry the request",
                                  headers={"Retry-After": "1"})
    state = _sqlstate(exc) or ""
    log.info("database error %s: %s", state, type(getattr(exc, "orig", exc)).__name__)
    if state.startswith("22"):  # data exception: value too long, out of range, bad text
        return ValidationFailed(
            "a value is not acceptable to the database (too long or out of range)"
        )
    if state in {"40001", "40P01", "55P03", "57014"}:  # serialization, deadlock, lock, timeout
        return Conflict("the request conflicted with a concurrent change; retry it")
    return exc


FailureHook = Callable[[AsyncSession], Awaitable[None]]


def on_failure(request: Request, hook: FailureHook) -> None:
    """Run `hook` in a fresh transaction if this request fails (its own writes are rolled
    back): for records that must outlive a failed request, such as failed logins and
    denied-access audit entries."""
    hooks: list[FailureHook] = getattr(request.state, "failure_hooks", None) or []
    hooks.append(hook)
    request.state.failure_hooks = hooks


def before_commit(request: Request, hook: Callable[[AsyncSession, Response], Awaitable[None]]
                  ) -> None:
    """Run `hook` in the request's transaction just before it commits a success."""
    hooks = getattr(request.state, "before_commit_hooks", None) or []
    hooks.append(hook)
    request.state.before_commit_hooks = hooks


class CommitRoute(APIRoute):
    """Commits the request's session after the endpoint, before the response is sent.

    A 2xx is only sent once its writes are durable; any error rolls everything back.
    Before committing, pending records (the idempotency record, audit entries) are written
    in the same transaction, so they exist exactly when the effects do.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def commit_after(request: Request) -> Response:
            try:
                response = await handler(request)
            except IntegrityError as exc:
                await _fail(request)
                raise integrity_to_api_error(exc) from None
            except DBAPIError as exc:
                await _fail(request)
                raise dbapi_to_api_error(exc) from None
            except Exception:
                await _fail(request)
                raise
            session: AsyncSession | None = getattr(request.state, "session", None)
            if session is None:
                return response
            if response.status_code >= 400:
                await _fail(request)
                return response
            try:
                for hook in getattr(request.state, "before_commit_hooks", None) or []:
                    await hook(session, response)
                await session.commit()
            except IntegrityError as exc:
                await _fail(request)
                raise integrity_to_api_error(exc) from None
            except DBAPIError as exc:
                await _fail(request)
                log.warning("commit failed: %s", type(exc.orig).__name__)
                raise ServiceUnavailable("the database did not accept the write; retry") from None
            return response

        return commit_after


async def _fail(request: Request) -> None:
    await _rollback(request)
    hooks: list[FailureHook] = getattr(request.state, "failure_hooks", None) or []
    if not hooks:
        return
    request.state.failure_hooks = []
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    try:
        async with maker() as session, session.begin():
            for hook in hooks:
                await hook(session)
    except Exception:  # never mask the original error
        log.exception("failure hook did not run")


async def _rollback(request: Request) -> None:
    session: Any = getattr(request.state, "session", None)
    if session is not None:
        try:
            await session.rollback()
        except Exception:  # the connection may already be gone
            log.debug("rollback failed", exc_info=True)
