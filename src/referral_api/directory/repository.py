"""Directory SQL: the JSON documents and the radius search, in one place.

Representations are built by PostgreSQL (json_build_object) so that the hot search path
hands the client bytes that Python only joins, and so that GET, PATCH and search return
byte-identical shapes. Statements are built once per combination of filters and cached;
asyncpg then prepares each once per connection.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from referral_api.errors import ServiceUnavailable


def _ts(col: str) -> str:
    return f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def location_json(alias: str) -> str:
    a = alias
    return (
        f"json_build_object('id', {a}.id, 'organization_id', {a}.organization_id, "
        f"'name', {a}.name, 'address', json_build_object('line1', {a}.line1, "
        f"'line2', {a}.line2, 'city', {a}.city, 'state', {a}.state, "
        f"'postal_code', {a}.postal_code), 'lat', {a}.lat, 'lon', {a}.lon, "
        f"'phone', {a}.phone, 'geocode_precision', {a}.geocode_precision, "
        f"'version', {a}.version, 'created_at', {_ts(a + '.created_at')}, "
        f"'updated_at', {_ts(a + '.updated_at')})"
    )


def _locations_of(alias: str) -> str:
    return (
        f"(SELECT coalesce(json_agg({location_json('l')} "
        f"ORDER BY array_position({alias}.location_ids, l.id)), '[]'::json) "
        f"FROM locations l WHERE l.id = ANY({alias}.location_ids))"
    )


def _with_distance(doc_fields: str, distance: str | None, nearest: str | None) -> str:
    return (
        f"json_build_object({doc_fields}, 'distance', {distance or 'NULL::json'}, "
        f"'nearest_location', {nearest or 'NULL::json'})"
    )


PROVIDER_FIELDS = (
    "'id', p.id, 'organization_id', p.organization_id, 'npi', p.npi, "
    "'first_name', p.first_name, 'last_name', p.last_name, 'credentials', p.credentials, "
    "'specialties', p.specialties, 'location_ids', p.location_ids, "
    f"'locations', {_locations_of('p')}, "
    "'conditions_treated', p.conditions_treated, 'services', p.services, "
    "'insurance_accepted', p.insurance_accepted, 'languages', p.languages, "
    "'accepting_referrals', p.accepting_referrals, "
    "'accepting_new_patients', p.accepting_new_patients, 'accepts_lop', p.accepts_lop, "
    "'telehealth', p.telehealth, 'profile_status', p.profile_status, 'active', p.active, "
    f"'version', p.version, 'created_at', {_ts('p.created_at')}, "
    f"'updated_at', {_ts('p.updated_at')}"
)

ATTORNEY_FIELDS = (
    "'id', p.id, 'organization_id', p.organization_id, "
    "'first_name', p.first_name, 'last_name', p.last_name, 'bar_number', p.bar_number, "
    "'bar_state', p.bar_state, 'practice_areas', p.practice_areas, "
    f"'location_ids', p.location_ids, 'locations', {_locations_of('p')}, "
    "'languages', p.languages, 'accepting_clients', p.accepting_clients, "
    "'accepts_lop_cases', p.accepts_lop_cases, 'active', p.active, "
    f"'version', p.version, 'created_at', {_ts('p.created_at')}, "
    f"'updated_at', {_ts('p.updated_at')}"
)


@dataclass(frozen=True, eq=False)  # hashed by identity: statements are cached per kind
class Kind:
    """What differs between the provider and the attorney directory."""

    name: str
    table: str
    points: str
    fk: str
    fields: str
    # filter name -> (predicate on search points `s`, predicate on the main table `p`)
    filters: dict[str, tuple[str, str]]
    has_specialty_column: bool


_BOOL = "{col} = :{name}"
_COMMON_POINT_FILTERS = {
    "language": (
        ":language = ANY(s.languages)",
        "EXISTS (SELECT 1 FROM unnest(p.languages) x WHERE lower(x) = :language)",
    ),
    "q": (
        "s.full_name LIKE ALL(CAST(:q AS text[]))",
        "lower(p.first_name || ' ' || p.last_name) LIKE ALL(CAST(:q AS text[]))",
    ),
}


def _bools(*names: str) -> dict[str, tuple[str, str]]:
    return {n: (_BOOL.format(col=f"s.{n}", name=n), _BOOL.format(col=f"p.{n}", name=n))
            for n in names}


PROVIDERS = Kind(
    name="provider",
    table="providers",
    points="provider_search_points",
    fk="provider_id",
    fields=PROVIDER_FIELDS,
    filters={
        "specialty": ("", ":specialty = ANY(p.specialty_codes)"),
        "insurance": (":insurance = ANY(s.insurance)", ":insurance = ANY(p.insurance_accepted)"),
        "condition": (
            ":condition = ANY(s.conditions)",
            "EXISTS (SELECT 1 FROM unnest(p.conditions_treated) x WHERE lower(x) = :condition)",
        ),
        **_COMMON_POINT_FILTERS,
        **_bools("accepting_referrals", "accepting_new_patients", "accepts_lop", "telehealth"),
    },
    has_specialty_column=True,
)

ATTORNEYS = Kind(
    name="attorney",
    table="attorneys",
    points="attorney_search_points",
    fk="attorney_id",
    fields=ATTORNEY_FIELDS,
    filters={
        "practice_area": (":practice_area = ANY(s.practice_areas)",
                          ":practice_area = ANY(p.practice_areas)"),
        **_COMMON_POINT_FILTERS,
        **_bools("accepting_clients", "accepts_lop_cases"),
    },
    has_specialty_column=False,
)

POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography"


@lru_cache(maxsize=512)
def radius_search_sql(kind: Kind, filters: frozenset[str], after: bool, exact: bool) -> TextClause:
    """Providers (or attorneys) with a location within :radius metres of the point.

    One row per match, at its nearest location, at most :n rows; `doc` is set on the first
    :want of them in (dist, id) order and NULL on the rest. `exact=False` walks the KNN
    index in spherical-distance order (fast; the caller checks the spheroid order is
    settled); `exact=True` sorts every match by spheroid distance (the rare fallback).
    """
    where = [f"ST_DWithin(s.geog, {POINT}, :radius)"]
    if kind.has_specialty_column:
        where.insert(0, "s.specialty_id = :specialty_id")
    where += [kind.filters[f][0] for f in sorted(filters) if kind.filters[f][0]]
    # Keep only each match's nearest location, so a match is one row and the keyset
    # below sees it exactly once. Every location of a provider has a point row for each
    # of its specialties (and for "any"), so which of the provider's other locations are
    # nearer does not depend on the specialty: the probe deliberately has no specialty_id
    # predicate, which would let the planner AND the provider_id index with a GiST scan
    # of every point of that specialty (milliseconds per probe at a million providers).
    where.append(
        f"(s.n_locations = 1 OR NOT EXISTS (SELECT 1 FROM {kind.points} s2 "
        f"WHERE s2.{kind.fk} = s.{kind.fk} AND s2.location_id <> s.location_id "
        f"AND (ST_Distance(s2.geog, {POINT}) < ST_Distance(s.geog, {POINT}) "
        f"OR (ST_Distance(s2.geog, {POINT}) = ST_Distance(s.geog, {POINT}) "
        f"AND s2.location_id < s.location_id))))"
    )
    if after:
        where.append(
            f"(ST_Distance(s.geog, {POINT}) > :after_distance OR "
            f"(ST_Distance(s.geog, {POINT}) = :after_distance AND s.{kind.fk} > :after_id))"
        )
    order = (
        f"ST_Distance(s.geog, {POINT}), s.{kind.fk}" if exact else f"s.geog <-> {POINT}"
    )
    distance = "json_build_object('value', c.dist / :unit_m, 'unit', CAST(:unit AS text))"
    doc = _with_distance(kind.fields, distance, location_json("nl"))
    # The caller pages over the first :want candidates in (distance, id) order (the settled
    # ones are a prefix of that order), so only those get a JSON document: building and
    # sending documents for all :n = 2 * :want candidates was half of the statement's work.
    # (A CASE around a scalar subquery: the planner cannot turn it into a join that builds
    # every document and filters afterwards, as it does with a LATERAL join.)
    sql = (
        f"SELECT c.dist, c.sph, c.{kind.fk} AS id, CASE WHEN c.rank <= :want THEN ("
        f"SELECT {doc}::text FROM {kind.table} p JOIN locations nl ON nl.id = c.location_id "
        f"WHERE p.id = c.{kind.fk}) END AS doc FROM ("
        f"SELECT k.*, row_number() OVER (ORDER BY k.dist, k.{kind.fk}) AS rank FROM ("
        f"SELECT s.{kind.fk}, s.location_id, ST_Distance(s.geog, {POINT}) AS dist, "
        f"s.geog <-> {POINT} AS sph FROM {kind.points} s "
        f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT :n) k) c"
    )
    return text(sql)


@lru_cache(maxsize=512)
def name_search_sql(kind: Kind, filters: frozenset[str], after: bool) -> TextClause:
    """Active providers (or attorneys) by last name, first name, id — no point given."""
    where = ["p.active"]
    where += [kind.filters[f][1] for f in sorted(filters)]
    if after:
        where.append("(p.last_name, p.first_name, p.id) > (:after_last, :after_first, :after_id)")
    doc = _with_distance(kind.fields, None, None)
    return text(
        f"SELECT p.last_name, p.first_name, p.id, {doc}::text AS doc FROM {kind.table} p "
        f"WHERE {' AND '.join(where)} ORDER BY p.last_name, p.first_name, p.id LIMIT :n"
    )


@lru_cache(maxsize=8)
def document_sql(kind: Kind, active_only: bool) -> TextClause:
    return text(
        f"SELECT json_build_object({kind.fields})::text AS doc, p.version "
        f"FROM {kind.table} p WHERE p.id = :id{' AND p.active' if active_only else ''}"
    )


async def document(session: AsyncSession, kind: Kind, object_id: uuid.UUID, *,
                   active_only: bool = False) -> tuple[str, int] | None:
    """The JSON representation of one provider or attorney, and its version."""
    row = (await session.execute(document_sql(kind, active_only), {"id": object_id})).first()
    return None if row is None else (str(row.doc), int(row.version))


@lru_cache(maxsize=1024)
def _for_asyncpg(stmt: TextClause) -> tuple[str, tuple[str, ...]]:
    """The statement as asyncpg takes it ($n placeholders) and its parameter order."""
    compiled = stmt.compile(dialect=asyncpg_dialect.dialect())
    return compiled.string, tuple(compiled.positiontup or ())


async def run(engine: AsyncEngine, stmt: TextClause, params: dict[str, Any]) -> list[Any]:
    """Run a read-only search statement straight on the pooled asyncpg connection.

    The hot path: no transaction (a lone SELECT needs none, so no BEGIN/COMMIT round
    trips) and no SQLAlchemy result processing — the rows are a few floats, an id and a
    ready JSON document. The connection still comes from, and goes back to, the engine's
    pool; one that died with its server is discarded and the client told to retry.
    """
    sql, names = _for_asyncpg(stmt)
    args = [params[name] for name in names]
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
        try:
            return list(await driver.fetch(sql, *args))
        except Exception as exc:
            # Whatever went wrong, this connection's state is unknown: never pool it again.
            await conn.invalidate()
            state = str(getattr(exc, "sqlstate", "") or "")
            broken = (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError)
            if isinstance(exc, broken) or state[:2] in ("08", "57"):
                raise ServiceUnavailable(
                    "the database connection was lost; retry the request",
                    headers={"Retry-After": "1"},
                ) from None
            raise
