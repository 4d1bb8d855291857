"""Directory radius-search benchmark at scale: raw PostGIS query vs the HTTP API.

Starts a throwaway PostgreSQL + PostGIS cluster, migrates it, bulk-loads N providers
(default 1,000,000) with COPY, then measures the same 25-mile + specialty + insurance
search two ways on the same data:

  raw  the exact SQL the service issues (radius_search_sql, compiled for asyncpg), bound
       with the parameters service.search binds, at 16 connections and on one connection;
  api  GET /v1/providers over HTTP with wrk against `referral-api serve --workers 2`.

Run:  .venv/bin/python bench/directory_search.py [--providers N] [--duration S] [--keep]

With --keep the cluster directory (default /var/tmp/referral-api-bench) is kept and its
loaded data reused by the next run with the same --providers/--seed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import asyncpg as sa_asyncpg

from referral_api import geo, migrations
from referral_api.config import Settings
from referral_api.db import make_engine
from referral_api.directory.repository import PROVIDERS, radius_search_sql
from referral_api.embedded import EmbeddedCluster
from referral_api.maintenance import SPATIAL_ORDER, reorder_search_points
from referral_api.vocabulary import (
    ANY_SPECIALTY_ID,
    INSURANCE_PLANS,
    SPECIALTIES,
    SPECIALTY_BY_SLUG,
    Specialty,
)

DATA_VERSION = 1  # bump when the generated data changes, so --keep reloads
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KEEP_DIR = Path("/var/tmp/referral-api-bench")
LOAD_TABLES = ("organizations", "locations", "providers", "provider_search_points")
# The service's engine sets these per connection (db.make_engine server_settings).
SERVICE_SERVER_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0"}
RADIUS_MI = 25.0
LIMIT = 20
TARGET_RATIO = 0.6
TARGET_API_P95_MS = 25.0
TARGET_RAW_SINGLE_P95_MS = 3.0

# -- the synthetic directory ------------------------------------------------------------

# (city, state, ZIP, lat, lon, metro population in millions): the 40 largest US metros.
METROS: tuple[tuple[str, str, str, float, float, float], ...] = (
    ("New York", "NY", "10001", 40.7128, -74.0060, 19.8),
    ("Los Angeles", "CA", "90012", 34.0522, -118.2437, 13.2),
    ("Chicago", "IL", "60602", 41.8781, -87.6298, 9.5),
    ("Dallas", "TX", "75201", 32.7767, -96.7970, 7.6),
    ("Houston", "TX", "77002", 29.7604, -95.3698, 7.1),
    ("Washington", "DC", "20001", 38.9072, -77.0369, 6.3),
    ("Philadelphia", "PA", "19103", 39.9526, -75.1652, 6.2),
    ("Miami", "FL", "33130", 25.7617, -80.1918, 6.1),
    ("Atlanta", "GA", "30303", 33.7490, -84.3880, 6.1),
    ("Boston", "MA", "02108", 42.3601, -71.0589, 4.9),
    ("Phoenix", "AZ", "85004", 33.4484, -112.0740, 4.9),
    ("San Francisco", "CA", "94103", 37.7749, -122.4194, 4.7),
    ("Riverside", "CA", "92501", 33.9806, -117.3755, 4.6),
    ("Detroit", "MI", "48226", 42.3314, -83.0458, 4.4),
    ("Seattle", "WA", "98101", 47.6062, -122.3321, 4.0),
    ("Minneapolis", "MN", "55401", 44.9778, -93.2650, 3.7),
    ("San Diego", "CA", "92101", 32.7157, -117.1611, 3.3),
    ("Tampa", "FL", "33602", 27.9506, -82.4572, 3.2),
    ("Denver", "CO", "80202", 39.7392, -104.9903, 3.0),
    ("Baltimore", "MD", "21202", 39.2904, -76.6122, 2.8),
    ("St. Louis", "MO", "63101", 38.6270, -90.1994, 2.8),
    ("Orlando", "FL", "32801", 28.5383, -81.3792, 2.7),
    ("Charlotte", "NC", "28202", 35.2271, -80.8431, 2.7),
    ("San Antonio", "TX", "78205", 29.4241, -98.4936, 2.6),
    ("Portland", "OR", "97204", 45.5152, -122.6784, 2.5),
    ("Sacramento", "CA", "95814", 38.5816, -121.4944, 2.4),
    ("Pittsburgh", "PA", "15222", 40.4406, -79.9959, 2.4),
    ("Austin", "TX", "78701", 30.2672, -97.7431, 2.3),
    ("Las Vegas", "NV", "89101", 36.1699, -115.1398, 2.3),
    ("Cincinnati", "OH", "45202", 39.1031, -84.5120, 2.2),
    ("Kansas City", "MO", "64106", 39.0997, -94.5786, 2.2),
    ("Columbus", "OH", "43215", 39.9612, -82.9988, 2.1),
    ("Indianapolis", "IN", "46204", 39.7684, -86.1581, 2.1),
    ("Cleveland", "OH", "44113", 41.4993, -81.6944, 2.1),
    ("San Jose", "CA", "95113", 37.3382, -121.8863, 2.0),
    ("Nashville", "TN", "37203", 36.1627, -86.7816, 2.0),
    ("Virginia Beach", "VA", "23451", 36.8529, -75.9780, 1.8),
    ("Providence", "RI", "02903", 41.8240, -71.4128, 1.7),
    ("Jacksonville", "FL", "32202", 30.3322, -81.6557, 1.6),
    ("Salt Lake City", "UT", "84101", 40.7608, -111.8910, 1.3),
)
METRO_SHARE = 0.70  # of practices; the rest are spread over the continental US by ZIP


def metro_sigma_km(pop_m: float) -> float:
    """Gaussian spread of a metro: 15 km for the smallest up to 30 km for New York."""
    return min(30.0, 13.0 + 3.9 * math.sqrt(pop_m))


# Specialty skew: chiropractors and physical therapists dominate, then a long tail.
SPECIALTY_WEIGHTS: dict[str, float] = {
    "chiropractor": 30, "physical_therapist": 24, "massage_therapist": 6,
    "orthopaedic_physical_therapist": 4.5, "acupuncturist": 4, "family_medicine": 4,
    "pain_medicine": 3.5, "mental_health_counselor": 3, "occupational_therapist": 3,
    "orthopaedic_surgery": 2.5, "clinical_psychologist": 2, "internal_medicine": 2,
    "interventional_pain_medicine": 1.8, "physical_medicine_rehabilitation": 1.6,
    "neurology": 1.4, "sports_chiropractor": 1.3, "family_nurse_practitioner": 1.2,
    "clinical_social_worker": 1.0, "professional_counselor": 0.9, "psychiatry": 0.8,
    "pain_medicine_pmr": 0.5, "diagnostic_radiology": 0.4,
}
INSURANCE_WEIGHTS: dict[str, float] = {
    "bcbs": 30, "aetna": 24, "unitedhealthcare": 22, "cigna": 18, "auto_pip": 18,
    "medicare": 16, "self_pay": 15, "lop": 12, "med_pay": 10, "humana": 9, "anthem": 9,
    "workers_comp": 8, "medicaid": 7, "tricare": 3, "kaiser": 2.5, "va_community_care": 2,
}
CREDENTIALS = {
    "chiropractor": ["DC"], "sports_chiropractor": ["DC", "CCSP"],
    "physical_therapist": ["PT", "DPT"], "orthopaedic_physical_therapist": ["PT", "DPT", "OCS"],
    "massage_therapist": ["LMT"], "acupuncturist": ["LAc"], "occupational_therapist": ["OTR/L"],
    "mental_health_counselor": ["LMHC"], "professional_counselor": ["LPC"],
    "clinical_social_worker": ["LCSW"], "clinical_psychologist": ["PhD"],
    "family_nurse_practitioner": ["FNP-C"],
}


def _words(s: str) -> tuple[str, ...]:
    return tuple(s.split())


CONDITIONS = (
    "Whiplash", "Low back pain", "Neck pain", "Herniated disc", "Sciatica", "Concussion",
    "Headache", "Shoulder injury", "Knee injury", "Soft tissue injury", "Sprain", "Fracture",
    "PTSD", "Anxiety", "Chronic pain", "Radiculopathy", "Rotator cuff tear", "TMJ",
)
SERVICES = (
    "Spinal manipulation", "X-ray", "MRI referral", "Therapeutic exercise", "Dry needling",
    "Massage", "Electrical stimulation", "Ultrasound therapy", "Injections",
    "Counseling", "Telehealth visits", "Functional capacity evaluation",
)
FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa Timothy Deborah "
    "Ronald Stephanie Jason Rebecca George Laura Edward Sharon Jeffrey Cynthia Ryan Kathleen "
    "Jacob Amy Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna Larry "
    "Pamela Justin Nicole Scott Samantha Brandon Katherine Benjamin Christine Samuel Debra "
    "Gregory Rachel Alexander Carolyn Patrick Janet Frank Maria Raymond Olivia Jack Heather "
    "Wei Priya Carlos Sofia Luis Mei Ahmed Fatima Hiroshi Aisha Nguyen Jose Ana Miguel"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Chen "
    "Wang Singh Shah Cohen O'Brien Kowalski Schmidt Novak Tanaka Yamamoto Okafor Haddad"
)
STREETS = ("Main St", "Oak Ave", "Maple Dr", "Park Blvd", "Cedar Ln", "Elm St", "Washington Ave",
           "Lake Rd", "Hill St", "Broadway", "Center St", "Pine St", "Market St", "2nd Ave")
PRACTICE_WORDS = ("Spine", "Wellness", "Rehab", "Physical Therapy", "Chiropractic", "Health",
                  "Injury Care", "Pain Relief", "Sports Medicine", "Family Care", "Recovery")
OTHER_LANGUAGES = ("Vietnamese", "Chinese", "Korean", "Russian", "Arabic", "Tagalog",
                   "Portuguese", "French", "Haitian Creole", "Polish")
CONTINENTAL_EXCLUDED = {"AK", "HI", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP", "FM",
                        "MH", "PW"}

KM_PER_DEG_LAT = 111.2


def npi_with_check_digit(nine: str) -> str:
    """The CMS NPI check digit: Luhn over the prefix 80840 + the first nine digits."""
    total = 0
    for i, ch in enumerate(reversed("80840" + nine)):
        d = int(ch)
        if i % 2 == 0:  # doubled positions, counted from the (missing) check digit
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return nine + str((10 - total % 10) % 10)


def ewkb_point(lon: float, lat: float) -> bytes:
    """Little-endian EWKB of POINT(lon lat) with SRID 4326 — what geography_recv takes."""
    return struct.pack("<BIIdd", 1, 0x20000001, 4326, lon, lat)


class Weighted:
    def __init__(self, weights: dict[str, float] | Sequence[tuple[Any, float]]) -> None:
        items = list(weights.items()) if isinstance(weights, dict) else list(weights)
        self.values = [v for v, _ in items]
        self.cum: list[float] = []
        total = 0.0
        for _, w in items:
            total += w
            self.cum.append(total)
        self.total = total

    def pick(self, rnd: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cum, rnd.random() * self.total)]

    def sample(self, rnd: random.Random, k: int) -> list[Any]:
        """k distinct values, weighted, in the order drawn."""
        out: list[Any] = []
        while len(out) < k:
            v = self.pick(rnd)
            if v not in out:
                out.append(v)
        return out


@dataclass
class ZipGrid:
    """ZIP centroids of the continental US in 0.1-degree cells, for addresses."""

    cells: dict[tuple[int, int], list[geo.ZipCentroid]] = field(default_factory=dict)
    all: list[geo.ZipCentroid] = field(default_factory=list)

    @classmethod
    def build(cls) -> ZipGrid:
        grid = cls()
        for z in geo.all_zip_centroids():
            if z.state in CONTINENTAL_EXCLUDED or not (24 < z.lat < 50 and -125 < z.lon < -66):
                continue
            grid.all.append(z)
            grid.cells.setdefault((int(z.lat * 10), int(z.lon * 10)), []).append(z)
        return grid

    def nearest(self, lat: float, lon: float) -> geo.ZipCentroid | None:
        i, j = int(lat * 10), int(lon * 10)
        found = self.cells.get((i, j))
        if not found:
            found = [z for di in (-1, 0, 1) for dj in (-1, 0, 1)
                     for z in self.cells.get((i + di, j + dj), ())]
        if not found:
            return None
        k = math.cos(math.radians(lat)) ** 2
        return min(found, key=lambda z: (z.lat - lat) ** 2 + k * (z.lon - lon) ** 2)


def gaussian_point(
    rnd: random.Random, lat: float, lon: float, sigma_km: float
) -> tuple[float, float]:
    dlat = rnd.gauss(0.0, sigma_km) / KM_PER_DEG_LAT
    dlon = rnd.gauss(0.0, sigma_km) / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


@dataclass
class Generator:
    """Deterministic (by seed) practices, locations, providers and their search points."""

    seed: int
    zips: ZipGrid
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.rnd = random.Random(self.seed)
        self.metros = Weighted([(m, m[5]) for m in METROS])
        self.specialties = Weighted(
            [(SPECIALTY_BY_SLUG[s], w) for s, w in SPECIALTY_WEIGHTS.items()]
        )
        self.insurance = Weighted(INSURANCE_WEIGHTS)
        assert set(INSURANCE_WEIGHTS) == {slug for slug, _ in INSURANCE_PLANS}
        assert set(SPECIALTY_WEIGHTS) == {s.slug for s in SPECIALTIES}
        self.org_sizes = Weighted([((1, 1), 40), ((2, 3), 30), ((4, 8), 22), ((9, 20), 8)])
        self.provider_seq = 0
        self.point_seq = 0
        self.spec_json: dict[tuple[str, ...], str] = {}
        self.lower_cache: dict[tuple[str, ...], list[str]] = {}

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.rnd.randbytes(16), version=4)

    def when(self) -> tuple[datetime, datetime]:
        created = self.now - timedelta(seconds=self.rnd.uniform(86_400, 730 * 86_400))
        age = (self.now - created).total_seconds()
        updated = created + timedelta(seconds=self.rnd.uniform(0, age))
        return created, updated

    def phone(self) -> str:
        r = self.rnd.randrange
        return f"({r(201, 990)}) {r(200, 999)}-{r(0, 10000):04d}"

    def _org_centre(self) -> tuple[float, float, tuple[str, str, str] | None]:
        rnd = self.rnd
        if rnd.random() < METRO_SHARE:
            city, state, zip_code, lat, lon, pop = self.metros.pick(rnd)
            plat, plon = gaussian_point(rnd, lat, lon, metro_sigma_km(pop))
            return plat, plon, (city, state, zip_code)
        z = rnd.choice(self.zips.all)
        plat, plon = gaussian_point(rnd, z.lat, z.lon, 3.0)
        return plat, plon, (z.city, z.state, z.zip_code)

    def _lower_sorted(self, values: list[str]) -> list[str]:
        key = tuple(values)
        got = self.lower_cache.get(key)
        if got is None:
            got = self.lower_cache[key] = sorted({v.lower() for v in values})
        return got

    def _specialty_doc(self, specs: list[Specialty]) -> str:
        key = tuple(s.code for s in specs)
        got = self.spec_json.get(key)
        if got is None:
            got = self.spec_json[key] = json.dumps(
                [{"code": s.code, "slug": s.slug, "display": s.display, "primary": i == 0}
                 for i, s in enumerate(specs)]
            )
        return got

    def practice(self) -> tuple[tuple[Any, ...], list[tuple[Any, ...]],
                                list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """One practice: its organization row, location rows, provider rows, point rows."""
        rnd = self.rnd
        lo, hi = self.org_sizes.pick(rnd)
        size = rnd.randint(lo, hi)
        multi_site = rnd.random() < {1: 0.10, 2: 0.35, 4: 0.5, 9: 0.7}[lo]
        n_sites = (2 if rnd.random() < 0.75 else 3) if multi_site else 1
        org_id = self.uuid4()
        lat0, lon0, place = self._org_centre()
        word = rnd.choice(PRACTICE_WORDS)
        org_name = f"{rnd.choice(LAST_NAMES)} {word}"
        lop = rnd.random() < 0.45
        created, updated = self.when()
        org = (
            org_id, org_name, "practice", None, self.phone(),
            f"https://www.{re.sub('[^a-z]', '', org_name.lower())}.example", lop,
            rnd.choice((2_500_000, 5_000_000, 10_000_000)) if lop else None,
            "We accept letters of protection for personal-injury patients." if lop else None,
            created, updated, 1,
        )
        sites: list[tuple[uuid.UUID, float, float, bytes]] = []
        locations = []
        for k in range(n_sites):
            lat, lon = (lat0, lon0) if k == 0 else gaussian_point(rnd, lat0, lon0, 8.0)
            lat = min(max(lat, -90.0), 90.0)
            z = self.zips.nearest(lat, lon)
            city, state, postal = (z.city, z.state, z.zip_code) if z else place or ("", "", "")
            loc_id = self.uuid4()
            geog = ewkb_point(lon, lat)
            sites.append((loc_id, lat, lon, geog))
            lc, lu = self.when()
            locations.append((
                loc_id, org_id, f"{org_name} — {city}" if n_sites > 1 else org_name,
                f"{rnd.randint(1, 9999)} {rnd.choice(STREETS)}",
                f"Suite {rnd.randint(100, 599)}" if rnd.random() < 0.4 else None,
                city, state, postal, self.phone(), lat, lon, geog, "exact", 1, lc, lu,
            ))
        providers = []
        points = []
        for _ in range(size):
            self.provider_seq += 1
            pid = self.uuid4()
            first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
            specs = [self.specialties.pick(rnd)]
            if rnd.random() < 0.15:
                specs = self.specialties.sample(rnd, 2)
            if n_sites > 1 and rnd.random() < 0.41:
                mine = rnd.sample(sites, 2)
            else:
                mine = [sites[0] if n_sites == 1 else rnd.choice(sites)]
            conditions = rnd.sample(CONDITIONS, rnd.randint(0, 5))
            services = rnd.sample(SERVICES, rnd.randint(0, 3))
            insurance = self.insurance.sample(rnd, rnd.choice((2, 2, 3, 3, 3, 4, 4, 5)))
            languages = ["English"]
            if rnd.random() < 0.28:
                languages.append("Spanish")
            if rnd.random() < 0.06:
                languages.append(rnd.choice(OTHER_LANGUAGES))
            accepting_referrals = rnd.random() < 0.92
            accepting_new = rnd.random() < 0.85
            accepts_lop = rnd.random() < (0.6 if lop else 0.2)
            telehealth = rnd.random() < 0.2
            pc, pu = self.when()
            providers.append((
                pid, org_id, npi_with_check_digit(f"1{self.provider_seq:08d}"), first, last,
                CREDENTIALS.get(specs[0].slug, ["MD"]),
                self._specialty_doc(specs), [s.code for s in specs], [s[0] for s in mine],
                conditions, services, insurance, languages, accepting_referrals,
                accepting_new, accepts_lop, telehealth, "listed", True, None, pc, pu, 1,
            ))
            # As service._write_provider_points: one row per (location, specialty) plus a
            # specialty 0 ("any") row per location, filters lowercased.
            langs = self._lower_sorted(languages)
            conds = self._lower_sorted(conditions)
            full_name = f"{first} {last}".lower()
            sids = [ANY_SPECIALTY_ID] + [s.id for s in specs]
            for loc_id, _, _, geog in mine:
                for sid in sids:
                    self.point_seq += 1
                    points.append((
                        self.point_seq, pid, loc_id, sid, geog, len(mine), insurance, langs,
                        conds, full_name, accepting_referrals, accepting_new, accepts_lop,
                        telehealth,
                    ))
        return org, locations, providers, points


ORG_COLUMNS = ("id", "name", "kind", "npi", "phone", "website", "lop_accepts",
               "lop_max_outstanding_cents", "lop_policy_text", "created_at", "updated_at",
               "version")
LOCATION_COLUMNS = ("id", "organization_id", "name", "line1", "line2", "city", "state",
                    "postal_code", "phone", "lat", "lon", "geog", "geocode_precision",
                    "version", "created_at", "updated_at")
PROVIDER_COLUMNS = ("id", "organization_id", "npi", "first_name", "last_name", "credentials",
                    "specialties", "specialty_codes", "location_ids", "conditions_treated",
                    "services", "insurance_accepted", "languages", "accepting_referrals",
                    "accepting_new_patients", "accepts_lop", "telehealth", "profile_status",
                    "active", "deleted_at", "created_at", "updated_at", "version")
POINT_COLUMNS = ("id", "provider_id", "location_id", "specialty_id", "geog", "n_locations",
                 "insurance", "languages", "conditions", "full_name", "accepting_referrals",
                 "accepting_new_patients", "accepts_lop", "telehealth")


# -- database helpers ---------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def connect(url: str, **settings: str) -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(url), server_settings=settings or None,
                                 command_timeout=600)


async def _geog_codec(conn: asyncpg.Connection) -> None:
    # Binary COPY: geography's receive function takes (E)WKB, so points go in as bytes.
    await conn.set_type_codec("geography", schema="public", format="binary",
                              encoder=lambda b: b, decoder=lambda b: b)


async def recreate_database(url: str) -> None:
    dsn = asyncpg_dsn(url)
    db = dsn.rsplit("/", 1)[1]
    conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()


@dataclass
class SchemaObjects:
    """Constraints and indexes of the loaded tables, dropped for COPY and rebuilt after."""

    foreign_keys: list[tuple[str, str, str]]  # (table, name, definition)
    keys: list[tuple[str, str, str]]  # primary and unique constraints
    indexes: list[tuple[str, str]]  # (name, CREATE INDEX ...)


async def schema_objects(conn: asyncpg.Connection) -> SchemaObjects:
    tables = list(LOAD_TABLES)
    cons = await conn.fetch(
        "SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def,"
        " c.contype::text AS contype FROM pg_constraint c WHERE (c.contype IN ('p', 'u') AND"
        " c.conrelid = ANY($1::text[]::regclass[])) OR (c.contype = 'f' AND"
        " (c.conrelid = ANY($1::text[]::regclass[]) OR c.confrelid = ANY($1::text[]::regclass[])))"
        " ORDER BY 1, 2", tables,
    )
    idx = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def "
        "FROM pg_index i WHERE i.indrelid = ANY($1::text[]::regclass[]) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
        "AND c.contype IN ('p', 'u', 'x')) ORDER BY 1", tables,
    )
    return SchemaObjects(
        foreign_keys=[(r["tbl"], r["conname"], r["def"]) for r in cons if r["contype"] == "f"],
        keys=[(r["tbl"], r["conname"], r["def"]) for r in cons if r["contype"] != "f"],
        indexes=[(r["name"], r["def"]) for r in idx],
    )


async def drop_schema_objects(conn: asyncpg.Connection, objs: SchemaObjects) -> None:
    for tbl, name, _ in objs.foreign_keys + objs.keys:
        await conn.execute(f'ALTER TABLE {tbl} DROP CONSTRAINT "{name}"')
    for name, _ in objs.indexes:
        await conn.execute(f"DROP INDEX {name}")


async def rebuild_schema_objects(url: str, objs: SchemaObjects) -> dict[str, float]:
    """Keys and indexes on two connections (GiST first: it is the long one), then FKs."""
    jobs = [(f"{name}", defn) for name, defn in objs.indexes if "USING gist" in defn]
    jobs += [(f"{tbl}.{name}", f'ALTER TABLE {tbl} ADD CONSTRAINT "{name}" {defn}')
             for tbl, name, defn in objs.keys]
    jobs += [(name, defn) for name, defn in objs.indexes if "USING gist" not in defn]
    timings: dict[str, float] = {}
    queue = list(jobs)

    async def worker() -> None:
        conn = await connect(url, maintenance_work_mem="2GB", max_parallel_maintenance_workers="0")
        try:
            while queue:
                name, stmt = queue.pop(0)
                t0 = time.perf_counter()
                await conn.execute(stmt)
                timings[name] = time.perf_counter() - t0
        finally:
            await conn.close()

    await asyncio.gather(worker(), worker())
    conn = await connect(url, maintenance_work_mem="2GB")
    try:
        for tbl, name, defn in objs.foreign_keys:
            t0 = time.perf_counter()
            await conn.execute(f'ALTER TABLE {tbl} ADD CONSTRAINT "{name}" {defn}')
            timings[f"{tbl}.{name}"] = time.perf_counter() - t0
    finally:
        await conn.close()
    return timings


async def load(url: str, providers: int, seed: int) -> dict[str, Any]:
    """COPY `providers` providers (with their practices, locations and search points)."""
    t_start = time.perf_counter()
    admin = await connect(url)
    objs = await schema_objects(admin)
    await drop_schema_objects(admin, objs)
    await admin.close()

    gen = Generator(seed, ZipGrid.build())
    conns = [await connect(url, synchronous_commit="off") for _ in LOAD_TABLES]
    for conn in conns:
        await _geog_codec(conn)
    columns = (ORG_COLUMNS, LOCATION_COLUMNS, PROVIDER_COLUMNS, POINT_COLUMNS)
    counts = dict.fromkeys(LOAD_TABLES, 0)
    multi = 0
    try:
        txs = [conn.transaction() for conn in conns]
        for conn, tx, table in zip(conns, txs, LOAD_TABLES, strict=True):
            await tx.start()
            # Truncated in the loading transaction: with wal_level=minimal COPY skips WAL.
            await conn.execute(f"TRUNCATE {table}")
        pending: list[asyncio.Future[Any]] = []
        chunk_target = 25_000
        made = 0
        last_report = time.perf_counter()
        while made < providers:
            batch: tuple[list[Any], ...] = ([], [], [], [])
            while len(batch[2]) < chunk_target and made + len(batch[2]) < providers:
                org, locs, provs, pts = gen.practice()
                room = providers - made - len(batch[2])
                if len(provs) > room:  # the last practice: trim it to the exact count
                    provs = provs[:room]
                    keep = {p[0] for p in provs}
                    pts = [p for p in pts if p[1] in keep]
                batch[0].append(org)
                batch[1].extend(locs)
                batch[2].extend(provs)
                batch[3].extend(pts)
            made += len(batch[2])
            multi += sum(1 for p in batch[2] if len(p[8]) > 1)
            if pending:  # one chunk in flight while the next is generated
                await asyncio.gather(*pending)
            pending = [
                asyncio.ensure_future(conn.copy_records_to_table(t, records=rows, columns=cols))
                for conn, t, rows, cols in zip(conns, LOAD_TABLES, batch, columns, strict=True)
            ]
            for t, rows in zip(LOAD_TABLES, batch, strict=True):
                counts[t] += len(rows)
            await asyncio.sleep(0)
            if time.perf_counter() - last_report > 10:
                last_report = time.perf_counter()
                print(f"  ... {made:,} providers ({time.perf_counter() - t_start:.0f} s)",
                      flush=True)
        if pending:
            await asyncio.gather(*pending)
        for tx in txs:
            await tx.commit()
    finally:
        for conn in conns:
            await conn.close()
    t_copy = time.perf_counter() - t_start
    print(f"  copied in {t_copy:.1f} s: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()),
          flush=True)

    admin = await connect(url)
    await admin.execute(f"SELECT setval('provider_search_points_id_seq', {gen.point_seq})")
    await admin.close()
    t0 = time.perf_counter()
    timings = await rebuild_schema_objects(url, objs)
    t_index = time.perf_counter() - t0
    slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:4]
    print(f"  keys, indexes and foreign keys rebuilt in {t_index:.1f} s (slowest: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in slowest) + ")", flush=True)
    t0 = time.perf_counter()
    admin = await connect(url, maintenance_work_mem="1GB")
    for table in LOAD_TABLES:
        await admin.execute(f"VACUUM (FREEZE, ANALYZE) {table}")
    await admin.close()
    t_vacuum = time.perf_counter() - t0
    print(f"  VACUUM (FREEZE, ANALYZE) in {t_vacuum:.1f} s", flush=True)
    return {
        "counts": counts, "multi_location_share": multi / max(1, providers),
        "copy_s": t_copy, "index_s": t_index, "vacuum_s": t_vacuum,
        "total_s": time.perf_counter() - t_start,
    }


async def check_loaded(url: str) -> list[str]:
    """A few invariants of the loaded data, so a broken loader shows up at once."""
    conn = await connect(url)
    problems = []
    try:
        checks = {
            "points per provider match (1 + specialties) x locations": """
                SELECT count(*) FROM providers p WHERE (SELECT count(*) FROM
                provider_search_points s WHERE s.provider_id = p.id)
                <> (1 + cardinality(p.specialty_codes)) * cardinality(p.location_ids)""",
            "point geog equals its location's geog": """
                SELECT count(*) FROM (SELECT * FROM provider_search_points
                TABLESAMPLE SYSTEM (1)) s JOIN locations l ON l.id = s.location_id
                WHERE NOT ST_Equals(s.geog::geometry, l.geog::geometry)""",
            "location geog equals lat/lon": """
                SELECT count(*) FROM (SELECT * FROM locations TABLESAMPLE SYSTEM (2)) l
                WHERE ST_Y(l.geog::geometry) <> l.lat OR ST_X(l.geog::geometry) <> l.lon
                OR ST_SRID(l.geog::geometry) <> 4326""",
            "n_locations equals cardinality(location_ids)": """
                SELECT count(*) FROM (SELECT * FROM provider_search_points
                TABLESAMPLE SYSTEM (1)) s JOIN providers p ON p.id = s.provider_id
                WHERE s.n_locations <> cardinality(p.location_ids)
                OR s.insurance <> p.insurance_accepted""",
        }
        for what, sql in checks.items():
            bad = await conn.fetchval(sql)
            if bad:
                problems.append(f"{what}: {bad} violations")
    finally:
        await conn.close()
    return problems


# -- the searches -------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    lat: float
    lon: float
    specialty: Specialty
    insurance: str

    def path(self) -> str:
        return (f"/v1/providers?lat={self.lat:.6f}&lon={self.lon:.6f}&radius={RADIUS_MI:g}"
                f"&specialty={self.specialty.slug}&insurance={self.insurance}&limit={LIMIT}")

    def params(self) -> dict[str, Any]:
        """What service.search binds for this request (router: radius in miles -> metres)."""
        unit_m = geo.METERS_PER_UNIT["mi"]
        return {"lat": self.lat, "lon": self.lon, "radius": RADIUS_MI * unit_m,
                "unit_m": unit_m, "unit": "mi", "specialty_id": self.specialty.id,
                "insurance": self.insurance, "n": 2 * (LIMIT + 1), "want": LIMIT + 1}


def make_searches(seed: int, count: int, zips: ZipGrid) -> list[Search]:
    """Points mostly in metros (85%), the rest near random continental ZIPs; specialty
    and insurance skewed like the directory (people search for what is common)."""
    rnd = random.Random(seed + 1)
    metros = Weighted([(m, m[5]) for m in METROS])
    specs = Weighted([(SPECIALTY_BY_SLUG[s], w) for s, w in SPECIALTY_WEIGHTS.items()])
    ins = Weighted(INSURANCE_WEIGHTS)
    out = []
    for _ in range(count):
        if rnd.random() < 0.85:
            _, _, _, lat, lon, pop = metros.pick(rnd)
            lat, lon = gaussian_point(rnd, lat, lon, metro_sigma_km(pop))
        else:
            z = rnd.choice(zips.all)
            lat, lon = gaussian_point(rnd, z.lat, z.lon, 3.0)
        out.append(Search(float(f"{lat:.6f}"), float(f"{lon:.6f}"), specs.pick(rnd),
                          ins.pick(rnd)))
    return out


def compiled_search_sql() -> tuple[str, list[str]]:
    """The service's radius search SQL as asyncpg receives it ($n) and the param order."""
    stmt = radius_search_sql(PROVIDERS, frozenset({"insurance"}), False, False)
    compiled = stmt.compile(dialect=sa_asyncpg.dialect())
    names = list(compiled.positiontup or [])
    return compiled.string, names


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


@dataclass
class Result:
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    errors: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# -- where the CPU goes -------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, CPU seconds so far) for every process we can read."""
    out: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read().decode("latin-1")
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2:].split()
        out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def _machine_busy() -> float:
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
    return (sum(cpu[:8]) - idle) / CLK_TCK


def _descendants(table: dict[int, tuple[int, float]], roots: set[int]) -> set[int]:
    found = {r for r in roots if r in table}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


@dataclass
class CpuMeter:
    """CPU seconds used during a run by the cluster, the API server, the client (this
    process, or wrk) and everything else on the machine (other work skews the figures)."""

    postmaster: int
    server: int | None = None
    t0: float = 0.0
    busy0: float = 0.0
    before: dict[int, tuple[int, float]] = field(default_factory=dict)
    children0: float = 0.0
    report: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> CpuMeter:
        self.t0 = time.perf_counter()
        self.busy0 = _machine_busy()
        self.before = _proc_table()
        self.children0 = _children_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        after = _proc_table()
        wall = time.perf_counter() - self.t0
        busy = _machine_busy() - self.busy0

        def used(pids: set[int]) -> float:
            return sum(after[p][1] - self.before.get(p, (0, 0.0))[1] for p in pids if p in after)

        pg = used(_descendants(after, {self.postmaster}))
        api = used(_descendants(after, {self.server})) if self.server else 0.0
        me = used({os.getpid()}) + (_children_cpu() - self.children0)  # + wrk, once reaped
        self.report = {"wall": wall, "machine": busy, "postgres": pg, "api": api,
                       "client": me, "other": max(0.0, busy - pg - api - me)}


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def postmaster_pid(cluster: EmbeddedCluster) -> int:
    return int((cluster.pgdata / "postmaster.pid").read_text().split()[0])


def cpu_line(report: dict[str, float], requests: int) -> str:
    if not report or not requests:
        return ""
    per = {k: report[k] / requests * 1000 for k in ("postgres", "api", "client")}
    cores = os.cpu_count() or 1
    return (f"CPU per request: postgres {per['postgres']:.2f} ms, "
            + (f"API workers {per['api']:.2f} ms, " if report["api"] else "")
            + f"client {per['client']:.2f} ms; machine {report['machine'] / report['wall']:.2f}"
            f" of {cores} cores busy, other processes {report['other'] / report['wall']:.2f}"
            " cores")


async def raw_bench(url: str, sql: str, args: list[tuple[Any, ...]], connections: int,
                    duration: float, warmup: float, meter: CpuMeter | None = None) -> Result:
    conns = [await connect(url, **SERVICE_SERVER_SETTINGS) for _ in range(connections)]
    latencies: list[float] = []
    rows_seen = 0
    counter = 0
    try:
        for conn in conns:
            await conn.prepare(sql)  # asyncpg caches it per connection, like the service

        async def client(conn: asyncpg.Connection, until: float, record: bool) -> None:
            nonlocal counter, rows_seen
            while True:
                now = time.perf_counter()
                if now >= until:
                    return
                counter += 1
                a = args[counter % len(args)]
                t0 = time.perf_counter()
                rows = await conn.fetch(sql, *a)
                if record:
                    latencies.append(time.perf_counter() - t0)
                    rows_seen += len(rows)

        if warmup > 0:
            until = time.perf_counter() + warmup
            await asyncio.gather(*(client(c, until, False) for c in conns))
        with meter or contextlib.nullcontext():  # while the backends are there to be read
            t0 = time.perf_counter()
            until = t0 + duration
            await asyncio.gather(*(client(c, until, True) for c in conns))
            elapsed = time.perf_counter() - t0
    finally:
        for conn in conns:
            await conn.close()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return Result(len(ms), elapsed, percentile(ms, 50), percentile(ms, 95), percentile(ms, 99),
                  extra={"rows_per_query": rows_seen / max(1, len(ms)),
                         "p75": percentile(ms, 75), "p90": percentile(ms, 90),
                         "max": ms[-1] if ms else float("nan")})


async def explain(url: str, sql: str, a: tuple[Any, ...]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement as a long-lived prepared statement
    executes it (after 10 runs, when the plan cache may have switched to a generic plan)."""
    conn = await connect(url, **SERVICE_SERVER_SETTINGS)
    try:
        await conn.execute(f"PREPARE bench_search AS {sql}")
        literal = ", ".join(
            repr(v) if isinstance(v, int | float) else "'" + str(v).replace("'", "''") + "'"
            for v in a
        )
        for _ in range(10):
            await conn.fetch(f"EXECUTE bench_search({literal})")
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_search({literal})")
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


async def service_engine_settings(url: str) -> dict[str, str]:
    """jit and parallel workers as the service's own engine (db.make_engine) sets them."""
    engine = make_engine(Settings(database_url=url), url)
    try:
        async with engine.connect() as conn:
            return {
                name: str((await conn.execute(text(f"SHOW {name}"))).scalar_one())
                for name in ("jit", "max_parallel_workers_per_gather")
            }
    finally:
        await engine.dispose()


async def db_sessions(url: str) -> int:
    conn = await connect(url)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return int(await conn.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ))
    finally:
        await conn.close()


async def prewarm(url: str) -> None:
    conn = await connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        rels = await conn.fetch(
            "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relkind IN ('r', 'i') AND "
            "(c.oid = ANY($1::text[]::regclass[]) OR c.oid IN (SELECT indexrelid FROM pg_index "
            "WHERE indrelid = ANY($1::text[]::regclass[])))", list(LOAD_TABLES),
        )
        for (rel,) in rels:
            await conn.execute("SELECT pg_prewarm($1::text::regclass)", rel)
    except asyncpg.PostgresError as exc:  # pg_prewarm missing: the warm-up queries remain
        print(f"  (pg_prewarm unavailable: {exc})")
    finally:
        await conn.close()


# -- the HTTP side ------------------------------------------------------------------------

WRK_LUA = r"""
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local n = #paths
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  counter = (tid or 0) * math.floor(n / 2)
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% n) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"requests\":%%d,\"duration_us\":%%d,\"p50\":%%d,\"p75\":%%d,\"p90\":%%d," ..
    "\"p95\":%%d,\"p99\":%%d,\"max\":%%d,\"mean\":%%.1f,\"status\":%%d,\"connect\":%%d," ..
    "\"read\":%%d,\"write\":%%d,\"timeout\":%%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def api_server(
    url: str, workers: int, workdir: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    prom = workdir / "prometheus"
    shutil.rmtree(prom, ignore_errors=True)
    prom.mkdir(parents=True)
    env = {**os.environ, "REFERRAL_API_DATABASE_URL": url, "PROMETHEUS_MULTIPROC_DIR": str(prom)}
    log_path = workdir / "api-server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "referral_api.cli", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API server exited ({proc.returncode}):\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not become ready in 90 s:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.25)
        yield base, proc
    finally:
        stop_process(proc)
        log.close()


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # uvicorn: graceful shutdown of its workers
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # our own session: the server and workers
            proc.wait(timeout=5)


def run_wrk(base: str, lua: Path, connections: int, duration: float, threads: int = 2) -> Result:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
           "--latency", "--timeout", "10s", "-s", str(lua), base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 60)
    m = re.search(r"^BENCH_JSON (.*)$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk printed no BENCH_JSON line:\n{out.stdout}\n{out.stderr}")
    d = json.loads(m.group(1))
    errors = d["status"] + d["connect"] + d["read"] + d["write"] + d["timeout"]
    return Result(d["requests"], d["duration_us"] / 1e6, d["p50"] / 1000, d["p95"] / 1000,
                  d["p99"] / 1000, errors,
                  extra={"p75": d["p75"] / 1000, "p90": d["p90"] / 1000, "max": d["max"] / 1000,
                         "status_errors": d["status"]})


def http_get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=10) as resp:
        return json.loads(resp.read())


async def expected_ids(url: str, sql: str, names: list[str], s: Search) -> list[str] | None:
    """The page service.search would return, from the raw rows (None if it would fall
    back to the exact query, which the raw statement does not cover)."""
    conn = await connect(url, **SERVICE_SERVER_SETTINGS)
    try:
        p = s.params()
        rows = await conn.fetch(sql, *(p[k] for k in names))
    finally:
        await conn.close()
    rows = sorted(rows, key=lambda r: (r["dist"], r["id"]))
    want = LIMIT + 1
    if len(rows) == p["n"]:
        settled = [r for r in rows if r["dist"] < max(r["sph"] for r in rows) * 0.994]
        if len(settled) < want:
            return None
        rows = settled
    return [str(r["id"]) for r in rows[:LIMIT]]


# -- the run --------------------------------------------------------------------------------


def fmt(r: Result) -> str:
    return (f"{r.rps:8.1f} req/s   p50 {r.p50:6.2f} ms   p95 {r.p95:6.2f} ms   "
            f"p99 {r.p99:6.2f} ms   ({r.requests:,} requests in {r.seconds:.1f} s"
            + (f", {r.errors} errors" if r.errors else "") + ")")


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def _raise_interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


ORDERS = {
    # The heap (and so the GiST build) in insertion order: practices all over the country
    # interleaved, which is what a table written by the API over time looks like.
    "api": "id",
    # Rewritten by specialty, then geohash (a Z-order curve): what a bulk import sorted
    # that way, or a periodic rewrite of provider_search_points, gives the GiST index.
    "spatial": SPATIAL_ORDER,
}


async def set_order(url: str, order: str) -> float:
    """Rewrite provider_search_points in `order`; rebuild its indexes as a load does.

    The spatial order is made by the service's own `referral-api maintenance
    reorder-search-points` (CLUSTER), so the bench measures what an operator can run."""
    t0 = time.perf_counter()
    if order == "spatial":
        await reorder_search_points(url)
        conn = await connect(url, maintenance_work_mem="1GB")
        try:
            await conn.execute("VACUUM (FREEZE, ANALYZE) provider_search_points")
        finally:
            await conn.close()
        return time.perf_counter() - t0
    conn = await connect(url, maintenance_work_mem="2GB")
    try:
        objs = await schema_objects(conn)
        indexes = [(n, d) for n, d in objs.indexes if " ON public.provider_search_points " in d]
        async with conn.transaction():
            # The same rows again: foreign keys need no re-checking.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                f"CREATE TEMP TABLE psp_reordered ON COMMIT DROP AS SELECT * FROM "
                f"provider_search_points ORDER BY {ORDERS[order]}"
            )
            for name, _ in indexes:
                await conn.execute(f"DROP INDEX {name}")
            await conn.execute("TRUNCATE provider_search_points")
            await conn.execute("INSERT INTO provider_search_points SELECT * FROM psp_reordered")
        await conn.execute("REINDEX INDEX pk_provider_search_points")
    finally:
        await conn.close()
    await rebuild_schema_objects(url, SchemaObjects([], [], indexes))
    conn = await connect(url, maintenance_work_mem="1GB")
    try:
        await conn.execute("VACUUM (FREEZE, ANALYZE) provider_search_points")
    finally:
        await conn.close()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--providers", type=int, default=1_000_000)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per measured run")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn workers for the API run")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--searches", type=int, default=1000,
                    help="distinct search requests, cycled through by every run")
    ap.add_argument("--order", choices=[*ORDERS, "both"], default="both",
                    help="row order of provider_search_points when its GiST index is built: "
                         "api (insertion order, as the API writes it), spatial (sorted), "
                         "or both, one after the other (default)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the cluster directory and reuse its data on the next run")
    ap.add_argument("--dir", type=Path, default=None,
                    help=f"cluster directory (default: a temp dir; {DEFAULT_KEEP_DIR} with --keep)")
    ap.add_argument("--skip-api", action="store_true", help="measure the raw query only")
    ap.add_argument("--serve-only", action="store_true",
                    help="load, start the API and wait (for profiling); Ctrl-C to stop")
    args = ap.parse_args(argv)

    t_begin = time.perf_counter()
    # Ctrl-C and SIGTERM unwind through the finally blocks below, which stop everything we
    # started (also when started in the background, where SIGINT is ignored by default).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    workdir = args.dir or (DEFAULT_KEEP_DIR if args.keep else
                           Path(tempfile.mkdtemp(prefix="referral-api-bench-")))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)  # the postgres user must traverse it
    cluster = EmbeddedCluster(workdir / "cluster", server_options={
        "shared_buffers": "2GB", "fsync": "off", "synchronous_commit": "off",
        "full_page_writes": "off", "wal_level": "minimal", "max_wal_senders": "0",
        "max_wal_size": "16GB", "checkpoint_timeout": "30min", "autovacuum": "off",
        "effective_cache_size": "16GB", "random_page_cost": "1.1",
    })
    try:
        print(f"cluster in {workdir} ...", flush=True)
        url = cluster.start()
        cluster.started_by_us = True  # also stop one left running by an interrupted run
        marker_path = workdir / "loaded.json"
        want_marker = {"providers": args.providers, "seed": args.seed,
                       "data_version": DATA_VERSION,
                       "heads": sorted(migrations.head_revisions())}
        marker = json.loads(marker_path.read_text()) if marker_path.exists() else {}
        load_s: float | None = None
        if {k: marker.get(k) for k in want_marker} == want_marker and marker.get("order"):
            print(f"reusing loaded data: {args.providers:,} providers "
                  f"(loaded earlier in {marker['stats']['total_s']:.1f} s)", flush=True)
        else:
            marker_path.unlink(missing_ok=True)
            print(f"loading {args.providers:,} providers ...", flush=True)
            t0 = time.perf_counter()
            asyncio.run(recreate_database(url))
            migrations.upgrade(url)
            stats = asyncio.run(load(url, args.providers, args.seed))
            problems = asyncio.run(check_loaded(url))
            if problems:
                raise RuntimeError("loaded data is inconsistent: " + "; ".join(problems))
            load_s = time.perf_counter() - t0
            marker = {**want_marker, "stats": stats, "order": "api"}
            marker_path.write_text(json.dumps(marker))
        stats = marker["stats"]
        counts = stats["counts"]
        print(f"data: {counts['providers']:,} providers, {counts['organizations']:,} practices, "
              f"{counts['locations']:,} locations, {counts['provider_search_points']:,} search "
              f"points; {stats['multi_location_share']:.1%} of providers at 2 locations")

        orders = list(ORDERS) if args.order == "both" else [args.order]
        if marker["order"] in orders:  # measure the order we have first: one rewrite less
            orders.remove(marker["order"])
            orders.insert(0, marker["order"])
        bench = Bench(args, url, cluster, workdir)
        phases = []
        for order in orders:
            reorder_s = None
            if marker["order"] != order:
                print(f"\nrewriting provider_search_points in {order} order ...", flush=True)
                reorder_s = asyncio.run(set_order(url, order))
                marker["order"] = order
                marker_path.write_text(json.dumps(marker))
                print(f"  done in {reorder_s:.1f} s", flush=True)
            asyncio.run(prewarm(url))
            phases.append(bench.phase(order, reorder_s))
        return bench.summary(phases, stats, load_s, time.perf_counter() - t_begin)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with contextlib.suppress(Exception):
            cluster.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


ORDER_TITLES = {
    "api": "search points in insertion order (as the API writes them)",
    "spatial": "search points sorted by specialty, geohash before the GiST build",
}


@dataclass
class Phase:
    order: str
    reorder_s: float | None
    plan_line: str
    gist: bool
    parallel_or_jit: bool
    raw: Result
    raw_cpu: dict[str, float]
    single: Result
    api: Result | None = None
    api_cpu: dict[str, float] = field(default_factory=dict)
    matches: tuple[int, int] | None = None
    new_sessions: int = 0


class Bench:
    def __init__(self, args: argparse.Namespace, url: str, cluster: EmbeddedCluster,
                 workdir: Path) -> None:
        self.args, self.url, self.cluster, self.workdir = args, url, cluster, workdir
        self.sql, self.names = compiled_search_sql()
        self.searches = make_searches(args.seed, args.searches, ZipGrid.build())
        bound = [s.params() for s in self.searches]
        if set(self.names) != set(bound[0]):
            raise RuntimeError(
                f"the search SQL binds {self.names}; the bench binds {sorted(bound[0])}"
            )
        self.arg_tuples = [tuple(p[k] for k in self.names) for p in bound]
        self.settings = asyncio.run(service_engine_settings(url))
        print("\nservice engine settings:",
              ", ".join(f"{k}={v}" for k, v in self.settings.items()))
        self.paths_file = workdir / "paths.txt"
        self.paths_file.write_text("\n".join(s.path() for s in self.searches) + "\n")
        self.lua = workdir / "search.lua"
        self.lua.write_text(WRK_LUA % {"paths": str(self.paths_file)})

    def phase(self, order: str, reorder_s: float | None) -> Phase:
        args = self.args
        print(f"\n--- {ORDER_TITLES[order]} ---")
        # A representative query: a chiropractor + BCBS search in downtown Chicago.
        rep = Search(41.8781, -87.6298, SPECIALTY_BY_SLUG["chiropractor"], "bcbs")
        plan = asyncio.run(explain(self.url, self.sql,
                                   tuple(rep.params()[k] for k in self.names)))
        print("EXPLAIN (ANALYZE, BUFFERS) — chiropractor + bcbs, 25 mi around downtown "
              "Chicago (prepared statement, 11th execution):")
        print("\n".join("  " + line for line in plan.splitlines()))
        gist = "ix_provider_search_points_specialty_geog" in plan
        parallel_or_jit = ("Gather" in plan or "Parallel" in plan
                           or re.search(r"^\s*JIT:", plan, re.M) is not None)
        plan_line = plan_summary(plan)
        print(f"plan: {plan_line}")

        pg = postmaster_pid(self.cluster)
        print(f"raw query, {args.connections} connections, {args.duration:g} s ...", flush=True)
        raw_cpu = CpuMeter(pg)
        raw = asyncio.run(raw_bench(self.url, self.sql, self.arg_tuples, args.connections,
                                    args.duration, args.warmup, raw_cpu))
        print(f"  {fmt(raw)}\n  {cpu_line(raw_cpu.report, raw.requests)}", flush=True)
        single_s = max(5.0, args.duration / 2)
        print(f"raw query, 1 connection, {single_s:g} s ...", flush=True)
        single = asyncio.run(raw_bench(self.url, self.sql, self.arg_tuples, 1, single_s,
                                       min(args.warmup, 2)))
        print(f"  {fmt(single)}", flush=True)
        result = Phase(order, reorder_s, plan_line, gist, parallel_or_jit, raw,
                       raw_cpu.report, single)
        if args.skip_api:
            return result

        print(f"API: referral-api serve --workers {args.workers} ...", flush=True)
        with api_server(self.url, args.workers, self.workdir) as (base, proc):
            checked = agree = 0
            for s in self.searches[:25]:
                want = asyncio.run(expected_ids(self.url, self.sql, self.names, s))
                if want is None:
                    continue
                got = [item["id"] for item in http_get(base, s.path())["items"]]
                checked += 1
                agree += got == want
            result.matches = (agree, checked)
            print(f"  API pages equal the raw query's rows in service order: {agree}/{checked}")
            if args.serve_only:
                print(f"  serving at {base} (paths in {self.paths_file}, wrk script "
                      f"{self.lua}); Ctrl-C to stop", flush=True)
                while True:
                    time.sleep(3600)
            if args.warmup > 0:
                run_wrk(base, self.lua, args.connections, args.warmup)
            print(f"  wrk, {args.connections} connections, {args.duration:g} s ...", flush=True)
            sessions0 = asyncio.run(db_sessions(self.url))
            with CpuMeter(pg, proc.pid) as api_cpu:
                result.api = run_wrk(base, self.lua, args.connections, args.duration)
            result.api_cpu = api_cpu.report
            # Connections the API's pools opened while measured (beyond pool_size they are
            # opened and closed per request, each with a SCRAM handshake).
            result.new_sessions = asyncio.run(db_sessions(self.url)) - sessions0 - 1
        print(f"  {fmt(result.api)}\n  {cpu_line(result.api_cpu, result.api.requests)}\n"
              f"  database sessions opened by the API during the run: {result.new_sessions}",
              flush=True)
        return result

    def summary(self, phases: list[Phase], stats: dict[str, Any], load_s: float | None,
                total_s: float) -> int:
        args = self.args
        print("\n" + "=" * 100)
        print(f"{stats['counts']['providers']:,} providers; GET /v1/providers 25 mi + specialty"
              f" + insurance, limit {LIMIT}; {args.connections} clients, {args.duration:g} s")
        ok = True
        for ph in phases:
            print(f"\n[{ph.order}] {ORDER_TITLES[ph.order]}"
                  + (f" (rewrite {ph.reorder_s:.1f} s)" if ph.reorder_s else ""))
            print(f"  plan: {ph.plan_line}")
            print(f"  raw  {args.connections:2d} conn  {fmt(ph.raw)}")
            print(f"                {cpu_line(ph.raw_cpu, ph.raw.requests)}")
            print(f"  raw   1 conn  {fmt(ph.single)}")
            checks = [(f"raw single-connection p95 < {TARGET_RAW_SINGLE_P95_MS:g} ms "
                       f"({ph.single.p95:.2f} ms)", ph.single.p95 < TARGET_RAW_SINGLE_P95_MS)]
            if ph.api is not None:
                ratio = ph.api.rps / ph.raw.rps if ph.raw.rps else 0.0
                print(f"  API  {args.connections:2d} conn  {fmt(ph.api)}")
                print(f"                {cpu_line(ph.api_cpu, ph.api.requests)}")
                print(f"                database sessions opened during the run: "
                      f"{ph.new_sessions}")
                print(f"  API / raw throughput: {ratio:.2f}")
                checks += [
                    (f"API >= {TARGET_RATIO:g} x raw throughput ({ratio:.2f})",
                     ratio >= TARGET_RATIO),
                    (f"API p95 < {TARGET_API_P95_MS:g} ms at {args.connections} clients "
                     f"({ph.api.p95:.2f} ms)", ph.api.p95 < TARGET_API_P95_MS),
                    (f"API requests all succeeded ({ph.api.errors} errors)", ph.api.errors == 0),
                ]
                if ph.matches is not None:
                    checks.append((f"API pages equal the raw query's ({ph.matches[0]}/"
                                   f"{ph.matches[1]})", ph.matches[0] == ph.matches[1]))
            checks += [("plan uses the GiST index", ph.gist),
                       ("no parallel workers, no JIT (service engine settings "
                        + ", ".join(f"{k}={v}" for k, v in self.settings.items()) + ")",
                        self.settings == SERVICE_SERVER_SETTINGS and not ph.parallel_or_jit)]
            for what, met in checks:
                print(f"  [{verdict(met)}] {what}")
                ok = ok and met
        if load_s is not None:
            print(f"\nload: {load_s:.1f} s (COPY {stats['copy_s']:.1f} s, keys+indexes+FKs "
                  f"{stats['index_s']:.1f} s, VACUUM/ANALYZE {stats['vacuum_s']:.1f} s, "
                  "plus database creation and migrations)")
        else:
            print(f"\nload: reused (originally {stats['total_s']:.1f} s)")
        print(f"total runtime: {total_s:.1f} s")
        return 0 if ok else 1


def plan_summary(plan: str) -> str:
    scan = re.search(
        r"Index Scan using (ix_provider_search_points_specialty_geog) on "
        r"provider_search_points s .*?\(actual time=([0-9.]+)\.\.([0-9.]+) rows=(\d+).*?\n"
        r"((?:\s+\S.*\n)*?)\s+Buffers: shared hit=(\d+)(?: read=(\d+))?",
        plan,
    )
    total = re.search(r"Execution Time: ([0-9.]+) ms", plan)
    parts = []
    if scan:
        buffers = int(scan.group(6)) + int(scan.group(7) or 0)
        parts.append(f"KNN scan on {scan.group(1)}: {scan.group(4)} rows in "
                     f"{float(scan.group(3)):.2f} ms, {buffers} buffers")
    else:
        parts.append("GiST index NOT used")
    if total:
        parts.append(f"statement {float(total.group(1)):.2f} ms")
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
