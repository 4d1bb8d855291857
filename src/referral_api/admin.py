"""Operator tasks run from the CLI."""

from __future__ import annotations

from referral_api.config import get_settings
from referral_api.db import make_engine, make_sessionmaker
from referral_api.organizations import service as org_service


async def bootstrap_platform_key(url: str, *, name: str) -> str:
    engine = make_engine(get_settings(), url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            _, key = await org_service.create_platform_key(session, name=name)
        return key
    finally:
        await engine.dispose()
