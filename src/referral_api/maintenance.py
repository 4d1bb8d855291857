"""Operator maintenance: keep the directory's search points in spatial order.

The API writes search points in sign-up order, so neighbouring rows are scattered over
the country; a KNN scan at 1M providers then touches ~800 buffers (~5 ms). Rewritten in
(specialty, geohash) order, with its GiST index rebuilt over the sorted heap, the same
scan touches ~120 (~0.6 ms) — see bench/directory_search.py. CLUSTER does the rewrite and
the rebuild; it holds an exclusive lock on provider_search_points meanwhile (tens of
seconds at 1M rows), so run it off-peak (e.g. nightly).
"""

from __future__ import annotations

import time

from sqlalchemy import text

from referral_api.config import get_settings
from referral_api.db import make_engine

SPATIAL_ORDER = "specialty_id, ST_GeoHash(geog::geometry, 12), id"
TEMP_INDEX = "tmp_provider_search_points_spatial_order"


async def reorder_search_points(url: str) -> dict[str, float | int]:
    engine = make_engine(get_settings(), url)
    started = time.perf_counter()
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("SET maintenance_work_mem = '1GB'"))
            await conn.execute(text(f"DROP INDEX IF EXISTS {TEMP_INDEX}"))
            await conn.execute(text(
                f"CREATE INDEX {TEMP_INDEX} ON provider_search_points ({SPATIAL_ORDER})"))
            try:
                await conn.execute(text(f"CLUSTER provider_search_points USING {TEMP_INDEX}"))
            finally:
                await conn.execute(text(f"DROP INDEX IF EXISTS {TEMP_INDEX}"))
            await conn.execute(text("ANALYZE provider_search_points"))
            rows = (await conn.execute(text("SELECT count(*) FROM provider_search_points"))
                    ).scalar_one()
    finally:
        await engine.dispose()
    return {"rows": int(rows), "seconds": round(time.perf_counter() - started, 1)}
