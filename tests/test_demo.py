"""The demo directory: a deterministic plan, seeded once, searchable through the API."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from referral_api import geo
from referral_api.demo import (
    MARKER_NAME,
    METRO_BY_KEY,
    METROS,
    OrgPlan,
    build_plan,
    seed_demo,
)
from referral_api.models import Attorney, Location, Organization, Provider
from referral_api.schemas_common import npi_check_digit_ok
from referral_api.vocabulary import INSURANCE_SLUGS, PRACTICE_AREAS, SPECIALTY_BY_CODE
from tests.factories import Api

MANHATTAN = "10016"  # Murray Hill

# Credentials a specialty's clinicians may hold (NUCC code -> allowed credentials).
PHYSICIAN = {"MD", "DO"}
CREDENTIALS = {
    "111N00000X": {"DC", "CCSP"}, "111NS0005X": {"DC", "CCSP"},
    "225100000X": {"PT", "DPT", "MSPT", "OCS"}, "2251X0800X": {"PT", "DPT", "OCS"},
    "225X00000X": {"OTR/L", "OTD", "CHT"}, "225700000X": {"LMT"}, "171100000X": {"LAc", "DACM"},
    "208VP0000X": PHYSICIAN, "208VP0014X": PHYSICIAN, "208100000X": PHYSICIAN,
    "2081P2900X": PHYSICIAN, "207X00000X": PHYSICIAN, "2084N0400X": PHYSICIAN,
    "207Q00000X": PHYSICIAN, "207R00000X": PHYSICIAN, "2084P0800X": PHYSICIAN,
    "101YM0800X": {"LMHC"}, "101YP2500X": {"LPC"}, "103TC0700X": {"PhD", "PsyD"},
    "1041C0700X": {"LCSW"}, "363LF0000X": {"APRN", "FNP-C"},
}


async def _count(engine: AsyncEngine, model: Any, *where: Any) -> int:
    async with engine.connect() as conn:
        stmt = select(func.count()).select_from(model).where(*where)
        return int((await conn.execute(stmt)).scalar_one())


async def _search_all(client: httpx.AsyncClient, path: str, **params: Any
                      ) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
        r = await client.get(path, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def _people(plan: list[OrgPlan], metro: str | None = None) -> tuple[list[Any], list[Any]]:
    orgs = [o for o in plan if metro is None or o.metro == metro]
    return ([p for o in orgs for p in o.providers], [a for o in orgs for a in o.attorneys])


# -- the plan (no database) --------------------------------------------------------------


def test_plan_is_deterministic() -> None:
    assert build_plan() == build_plan()
    assert build_plan(40, 8) == build_plan(40, 8)
    assert build_plan(40, 8, seed=1) != build_plan(40, 8)


def test_plan_has_the_requested_people_in_every_metro() -> None:
    plan = build_plan(360, 60)
    providers, attorneys = _people(plan)
    assert (len(providers), len(attorneys)) == (360, 60)
    assert {o.metro for o in plan} == {m.key for m in METROS}
    for metro in METROS:
        metro_providers, metro_attorneys = _people(plan, metro.key)
        assert len(metro_providers) >= 20, metro.key
        assert len(metro_attorneys) >= 3, metro.key
    assert _people(build_plan(0, 0)) == ([], [])
    assert [len(x) for x in _people(build_plan(7, 3))] == [7, 3]


def test_plan_organizations_are_shaped_like_the_real_thing() -> None:
    plan = build_plan()
    names = [o.name for o in plan]
    assert len(set(names)) == len(names)
    for o in plan:
        metro = METRO_BY_KEY[o.metro]
        assert o.kind in {"practice", "law_firm"}
        assert o.website.startswith("https://")
        assert o.website.endswith(".demo.example")
        assert 1 <= len(o.locations) <= 3
        assert len({loc.postal_code for loc in o.locations}) == len(o.locations)
        for loc in o.locations:
            centroid = geo.zip_centroid(loc.postal_code)
            assert centroid is not None, loc
            assert (centroid.state, centroid.city) == (metro.state, loc.city) == (loc.state,
                                                                                  loc.city)
            assert loc.line1.split(" ", 1)[0].isdigit(), loc
            assert "555-01" in loc.phone
        if o.kind == "practice":
            assert o.providers
            assert not o.attorneys
            assert o.npi is not None
            assert o.npi[0] == "2"
            assert npi_check_digit_ok(o.npi)
        else:
            assert o.attorneys
            assert not o.providers
            assert o.npi is None
    practices = [o for o in plan if o.kind == "practice"]
    assert sum(len(o.providers) >= 2 for o in practices) > len(practices) / 2
    assert {len(o.locations) for o in practices} == {1, 2, 3}


def test_plan_providers_are_plausible() -> None:
    plan = build_plan()
    providers, _ = _people(plan)
    npis = [p.npi for p in providers]
    assert len(set(npis)) == len(npis)
    assert all(npi[0] == "1" and npi_check_digit_ok(npi) for npi in npis)
    assert len({(p.first_name, p.last_name) for p in providers}) == len(providers)
    for o in plan:
        for p in o.providers:
            assert p.specialties
            assert all(c in SPECIALTY_BY_CODE for c in p.specialties)
            allowed = set().union(*(CREDENTIALS[c] for c in p.specialties))
            assert p.credentials, p
            assert set(p.credentials) <= allowed, p
            assert 2 <= len(p.insurance_accepted) <= 5, p
            assert set(p.insurance_accepted) <= INSURANCE_SLUGS
            assert ("lop" in p.insurance_accepted) == p.accepts_lop
            assert p.languages[0] == "English"
            assert len(p.conditions_treated) >= 4
            assert p.services
            assert p.locations
            assert all(0 <= i < len(o.locations) for i in p.locations)
    # Conservative care: chiropractors and physical therapists lead, others trail.
    primary = Counter(SPECIALTY_BY_CODE[p.specialties[0]].slug for p in providers)
    top = [slug for slug, _ in primary.most_common(2)]
    assert set(top) == {"chiropractor", "physical_therapist"}
    assert primary["chiropractor"] + primary["physical_therapist"] > len(providers) / 2
    assert len(primary) >= 12
    # Mostly English; Spanish common; a handful of others.
    languages = Counter(lang for p in providers for lang in p.languages)
    assert 0.15 < languages["Spanish"] / len(providers) < 0.5
    assert len(languages) >= 8
    # Letters of protection: common for chiropractors and PTs, rare for counselors.
    def lop_share(codes: set[str]) -> float:
        group = [p for p in providers if p.specialties[0] in codes]
        return sum(p.accepts_lop for p in group) / len(group)

    assert lop_share({"111N00000X", "225100000X"}) > lop_share(
        {"101YM0800X", "101YP2500X", "103TC0700X", "1041C0700X"}
    )
    counselors = [p for p in providers if p.specialties[0] in {"101YM0800X", "101YP2500X"}]
    for p in counselors:
        state = METRO_BY_KEY[next(o.metro for o in plan if p in o.providers)].state
        assert p.credentials == (["LMHC"] if state in {"NY", "FL", "WA"} else ["LPC"])


def test_plan_attorneys_are_plausible() -> None:
    plan = build_plan()
    _, attorneys = _people(plan)
    bars = [(a.bar_state, a.bar_number) for a in attorneys]
    assert len(set(bars)) == len(bars)
    for o in plan:
        for a in o.attorneys:
            assert a.bar_state == METRO_BY_KEY[o.metro].state
            assert a.bar_number.isdigit()
            assert a.practice_areas
            assert set(a.practice_areas) <= set(PRACTICE_AREAS)
    pi = sum("personal_injury" in a.practice_areas for a in attorneys)
    assert pi / len(attorneys) > 0.8


# -- seeding -----------------------------------------------------------------------------


async def test_seed_demo_inserts_the_directory_once(database_url: str,
                                                    engine: AsyncEngine) -> None:
    plan = build_plan()
    started = time.perf_counter()
    result = await seed_demo(database_url)
    elapsed = time.perf_counter() - started
    assert result == {"providers": 360, "attorneys": 60, "already_seeded": False}
    assert elapsed < 30, elapsed  # a few seconds in practice

    assert await _count(engine, Provider) == 360
    assert await _count(engine, Attorney) == 60
    practices = sum(o.kind == "practice" for o in plan)
    firms = sum(o.kind == "law_firm" for o in plan)
    assert await _count(engine, Organization, Organization.kind == "practice") == practices
    assert await _count(engine, Organization, Organization.kind == "law_firm") == firms
    assert await _count(engine, Organization, Organization.name == MARKER_NAME) == 1
    assert await _count(engine, Location) == sum(len(o.locations) for o in plan)
    # Every location was geocoded by the service from its ZIP.
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(Location.postal_code, Location.lat, Location.lon, Location.geocode_precision)
        )).all()
    for postal_code, lat, lon, precision in rows:
        centroid = geo.zip_centroid(postal_code)
        assert centroid is not None
        assert (lat, lon, precision) == (centroid.lat, centroid.lon, "postal_code")

    again = await seed_demo(database_url, providers=5, attorneys=5)
    assert again == {"providers": 360, "attorneys": 60, "already_seeded": True}
    assert await _count(engine, Provider) == 360
    assert await _count(engine, Attorney) == 60
    assert await _count(engine, Organization) == practices + firms + 1


async def test_concurrent_seeders_seed_once(database_url: str, engine: AsyncEngine) -> None:
    results = await asyncio.gather(
        seed_demo(database_url, providers=30, attorneys=6),
        seed_demo(database_url, providers=30, attorneys=6),
    )
    assert sorted(r["already_seeded"] for r in results) == [False, True]
    assert all((r["providers"], r["attorneys"]) == (30, 6) for r in results)
    assert await _count(engine, Provider) == 30
    assert await _count(engine, Attorney) == 6


async def test_seed_demo_steps_around_identifiers_already_listed(
    database_url: str, api: Api, engine: AsyncEngine
) -> None:
    providers, attorneys = _people(build_plan(20, 4))
    practice = await api.org("practice")
    loc = await api.location(practice)
    theirs = await api.provider(practice, [loc["id"]], npi=providers[0].npi)
    firm = await api.org("law_firm")
    firm_loc = await api.location(firm)
    lawyer = await api.attorney(firm, [firm_loc["id"]], bar_state=attorneys[0].bar_state,
                                bar_number=attorneys[0].bar_number)

    result = await seed_demo(database_url, providers=20, attorneys=4)
    assert result == {"providers": 20, "attorneys": 4, "already_seeded": False}
    assert await _count(engine, Provider) == 21
    assert await _count(engine, Attorney) == 5
    # The existing listings keep their identifiers; the demo people got other valid ones.
    async with engine.connect() as conn:
        owner = (await conn.execute(
            select(Provider.id).where(Provider.npi == providers[0].npi)
        )).scalar_one()
        bar_owner = (await conn.execute(select(Attorney.id).where(
            Attorney.bar_state == attorneys[0].bar_state,
            Attorney.bar_number == attorneys[0].bar_number,
        ))).scalar_one()
        demo_npis = (await conn.execute(
            select(Provider.npi).where(Provider.id != owner)
        )).scalars().all()
    assert str(owner) == theirs["id"]
    assert str(bar_owner) == lawyer["id"]
    assert all(npi_check_digit_ok(n) for n in demo_npis)
    # Only the demo's own people are counted as the demo.
    again = await seed_demo(database_url, providers=20, attorneys=4)
    assert again == {"providers": 20, "attorneys": 4, "already_seeded": True}


async def test_seeded_directory_is_searchable(database_url: str,
                                              client: httpx.AsyncClient) -> None:
    plan = build_plan()
    await seed_demo(database_url)
    ny_providers, ny_attorneys = _people(plan, "New York")

    # Chiropractors near Manhattan: every one of the New York metro's, nearest first.
    chiros = await _search_all(client, "/v1/providers", zip=MANHATTAN, radius=25,
                               specialty="chiropractor")
    expected = {p.npi for p in ny_providers if "111N00000X" in p.specialties}
    assert len(expected) >= 5
    assert {item["npi"] for item in chiros} == expected
    distances = [item["distance"]["value"] for item in chiros]
    assert distances == sorted(distances)
    assert all(0 <= d <= 25 for d in distances)
    assert all(item["distance"]["unit"] == "mi" for item in chiros)
    for item in chiros:
        assert "chiropractor" in {s["slug"] for s in item["specialties"]}
        assert item["nearest_location"]["address"]["state"] == "NY"
        assert item["nearest_location"]["geocode_precision"] == "postal_code"

    # Personal-injury attorneys near Manhattan: all New York bar members in the demo.
    lawyers = await _search_all(client, "/v1/attorneys", zip=MANHATTAN, radius=25,
                                practice_area="personal_injury")
    expected_bars = {a.bar_number for a in ny_attorneys if "personal_injury" in a.practice_areas}
    assert expected_bars
    assert {item["bar_number"] for item in lawyers} == expected_bars
    assert all(item["bar_state"] == "NY" for item in lawyers)
    distances = [item["distance"]["value"] for item in lawyers]
    assert distances == sorted(distances)

    # Other metros answer the filters a referral coordinator would use.
    la_lop = await _search_all(client, "/v1/providers", zip="90036", radius=25,
                               accepts_lop="true", insurance="lop")
    assert la_lop
    assert all(item["accepts_lop"] and "lop" in item["insurance_accepted"] for item in la_lop)
    miami_spanish = await _search_all(client, "/v1/providers", zip="33131", radius=15,
                                      language="spanish", condition="whiplash")
    assert miami_spanish
    assert all("Spanish" in item["languages"] for item in miami_spanish)
    # Nothing is listed in between the metros.
    nowhere = await _search_all(client, "/v1/providers", zip="59001", radius=50)  # Montana
    assert nowhere == []
