"""Directory search (GET /v1/providers, GET /v1/attorneys) against the contract.

Distances are checked against geodesics computed independently with geographiclib
(WGS84), never against the service's own arithmetic. Everything is created through the
public API, as a client would.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import zipcodes
from geographiclib.geodesic import Geodesic

from tests.factories import Api, Org

GEOD = Geodesic.WGS84
METERS_PER = {"mi": 1609.344, "km": 1000.0}
PROBLEM_JSON = "application/problem+json"

# Fields a public directory entry may carry; anything about patients is PHI and must
# never appear in a public response (nor in any nested object of it).
PHI_KEYS = {
    "patient", "patients", "patient_id", "birth_date", "date_of_birth", "dob", "ssn",
    "mrn", "diagnosis_codes", "chief_complaint", "clinical_impression", "note", "notes",
    "referrals", "referral", "letters_of_protection",
}

# -- helpers -----------------------------------------------------------------------------


def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.Inverse(a[0], a[1], b[0], b[1])["s12"])


def offset(origin: tuple[float, float], azimuth: float, meters: float) -> tuple[float, float]:
    """The point `meters` away from `origin` along `azimuth` (degrees from north)."""
    g = GEOD.Direct(origin[0], origin[1], azimuth, meters)
    lon = (g["lon2"] + 180.0) % 360.0 - 180.0
    return float(g["lat2"]), float(lon)


def to_meters(value: float, unit: str) -> float:
    return value * METERS_PER[unit]


def zip_point(code: str) -> tuple[float, float]:
    row = zipcodes.matching(code)[0]
    return float(row["lat"]), float(row["long"])


async def place(api: Api, org: Org, lat: float, lon: float, *, city: str = "Somewhere",
                state: str = "NY", postal_code: str = "10001") -> dict[str, Any]:
    """A location at an exact point."""
    return await api.location(
        org, lat=lat, lon=lon, name=f"{city} office",
        address={"line1": "1 Main St", "city": city, "state": state,
                 "postal_code": postal_code},
    )


async def get_ok(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    r = await client.get(path, params=_query(params))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) >= {"items", "next_cursor"}
    return body


def _query(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else v
    return out


async def search_all(client: httpx.AsyncClient, path: str, **params: Any
                     ) -> list[dict[str, Any]]:
    """Follow next_cursor to the end and return every item, in order."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):  # a cursor that never ends is a bug, not a hang
        body = await get_ok(client, path, **params, cursor=cursor)
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        limit = params.get("limit")
        assert len(body["items"]) <= (limit or 20)
    raise AssertionError("next_cursor never ended")


def ids(items: Iterable[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def assert_problem(r: httpx.Response, status: int, pointer: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    if pointer is not None:
        pointers = [e["pointer"] for e in body.get("errors", [])]
        assert pointer in pointers, body


def all_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        keys = set(value)
        for v in value.values():
            keys |= all_keys(v)
        return keys
    if isinstance(value, list):
        out: set[str] = set()
        for v in value:
            out |= all_keys(v)
        return out
    return set()


def expected_order(rows: Iterable[tuple[str, float]]) -> list[str]:
    """Ids ordered by distance, then id (UUIDs compare like PostgreSQL's uuid)."""
    return [i for i, _ in sorted(rows, key=lambda r: (r[1], uuid.UUID(r[0])))]


def assert_distance(item: dict[str, Any], meters: float, unit: str) -> None:
    assert item["distance"]["unit"] == unit
    expected = meters / METERS_PER[unit]
    assert item["distance"]["value"] == pytest.approx(expected, rel=0.005, abs=1e-3), (
        item["last_name"], item["distance"], expected
    )


@pytest.fixture
async def practice(api: Api) -> Org:
    return await api.org("practice")


@pytest.fixture
async def law_firm(api: Api) -> Org:
    return await api.org("law_firm")


# -- known places ------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    city: str
    state: str
    postal_code: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Scenario:
    origin: tuple[float, float]
    radius_mi: float
    places: tuple[Place, ...]


SCENARIOS = {
    "new-york-new-jersey-connecticut": Scenario((40.7580, -73.9855), 30, (
        Place("New York", "NY", "10007", 40.7128, -74.0060),
        Place("Hoboken", "NJ", "07030", 40.7440, -74.0324),
        Place("Jersey City", "NJ", "07302", 40.7178, -74.0431),
        Place("Newark", "NJ", "07102", 40.7357, -74.1724),
        Place("Yonkers", "NY", "10701", 40.9312, -73.8988),
        Place("Greenwich", "CT", "06830", 41.0262, -73.6282),
        Place("Stamford", "CT", "06901", 41.0534, -73.5387),
        Place("Princeton", "NJ", "08540", 40.3573, -74.6672),
        Place("New Haven", "CT", "06510", 41.3083, -72.9279),
    )),
    "kansas-city-missouri-kansas": Scenario((39.0997, -94.5786), 40, (
        Place("Kansas City", "KS", "66101", 39.1141, -94.6275),
        Place("Overland Park", "KS", "66212", 38.9822, -94.6708),
        Place("Independence", "MO", "64050", 39.0911, -94.4155),
        Place("Olathe", "KS", "66061", 38.8814, -94.8191),
        Place("Lawrence", "KS", "66044", 38.9717, -95.2353),
        Place("St. Joseph", "MO", "64501", 39.7675, -94.8467),
        Place("Topeka", "KS", "66603", 39.0473, -95.6752),
    )),
    "texarkana-texas-arkansas": Scenario((33.4300, -94.0430), 25, (
        Place("Texarkana", "TX", "75501", 33.4251, -94.0477),
        Place("Texarkana", "AR", "71854", 33.4418, -94.0377),
        Place("New Boston", "TX", "75570", 33.4598, -94.4155),
        Place("Hope", "AR", "71801", 33.6671, -93.5916),
        Place("Atlanta", "TX", "75551", 33.0190, -94.3633),
    )),
    "bristol-tennessee-virginia": Scenario((36.5960, -82.1880), 15, (
        Place("Bristol", "TN", "37620", 36.5951, -82.1887),
        Place("Bristol", "VA", "24201", 36.6115, -82.1710),
        Place("Abingdon", "VA", "24210", 36.7098, -81.9773),
        Place("Kingsport", "TN", "37660", 36.5484, -82.5618),
        Place("Johnson City", "TN", "37604", 36.3134, -82.3535),
    )),
    "lake-tahoe-nevada-california": Scenario((38.9619, -119.9430), 45, (
        Place("South Lake Tahoe", "CA", "96150", 38.9399, -119.9772),
        Place("Carson City", "NV", "89701", 39.1638, -119.7674),
        Place("Truckee", "CA", "96161", 39.3280, -120.1833),
        Place("Reno", "NV", "89501", 39.5296, -119.8138),
        Place("Placerville", "CA", "95667", 38.7296, -120.7985),
    )),
    "honolulu": Scenario((21.3069, -157.8583), 30, (
        Place("Kailua", "HI", "96734", 21.4022, -157.7394),
        Place("Pearl City", "HI", "96782", 21.3972, -157.9752),
        Place("Haleiwa", "HI", "96712", 21.5928, -158.1034),
        Place("Lanai City", "HI", "96763", 20.8275, -156.9203),
        Place("Hilo", "HI", "96720", 19.7071, -155.0885),
    )),
    "fairbanks-high-latitude": Scenario((64.8378, -147.7164), 50, (
        Place("North Pole", "AK", "99705", 64.7511, -147.3494),
        Place("Ester", "AK", "99725", 64.8472, -148.0144),
        Place("Chena Hot Springs Rd", "AK", "99712", 65.0, -146.5),
        Place("Salcha", "AK", "99714", 64.4, -148.0),
        Place("Delta Junction", "AK", "99737", 64.0401, -145.7322),
    )),
    "aleutians-across-the-antimeridian": Scenario((51.95, 179.95), 50, (
        Place("East of the line", "AK", "99546", 51.95, -179.95),
        Place("West", "AK", "99546", 52.05, 179.80),
        Place("South-east", "AK", "99546", 51.80, -179.70),
        Place("North", "AK", "99546", 52.50, 179.95),
        Place("Far east", "AK", "99546", 51.95, -178.50),
    )),
}


# -- distance and radius -----------------------------------------------------------------


class TestSearchProvidersByDistance:
    @pytest.mark.parametrize("unit", ["mi", "km"])
    @pytest.mark.parametrize("name", list(SCENARIOS))
    async def test_distances_match_geodesic_and_only_matches_inside_radius_are_listed(
        self, api: Api, practice: Org, name: str, unit: str
    ) -> None:
        scenario = SCENARIOS[name]
        radius_m = to_meters(scenario.radius_mi, "mi")
        expected: dict[str, float] = {}
        for p in scenario.places:
            loc = await place(api, practice, p.lat, p.lon, city=p.city, state=p.state,
                              postal_code=p.postal_code)
            prov = await api.provider(practice, [loc["id"]], last_name=f"{p.city} {p.state}")
            d = geodesic_m(scenario.origin, (p.lat, p.lon))
            # test data sanity: no place sits so close to the edge that 0.5 % matters
            assert abs(d - radius_m) / radius_m > 0.02
            if d <= radius_m:
                expected[prov["id"]] = d
        assert 0 < len(expected) < len(scenario.places)

        radius = scenario.radius_mi if unit == "mi" else scenario.radius_mi * 1.609344
        items = await search_all(api.client, "/v1/providers", lat=scenario.origin[0],
                                 lon=scenario.origin[1], radius=radius, unit=unit, limit=100)

        assert ids(items) == expected_order(expected.items())
        for item in items:
            assert_distance(item, expected[item["id"]], unit)
            assert item["nearest_location"]["id"] == item["location_ids"][0]

    async def test_unit_defaults_to_miles(self, api: Api, practice: Org) -> None:
        origin = (40.7580, -73.9855)
        target = offset(origin, 30, to_meters(10, "km"))
        loc = await place(api, practice, *target)
        await api.provider(practice, [loc["id"]])

        body = await get_ok(api.client, "/v1/providers", lat=origin[0], lon=origin[1])

        [item] = body["items"]
        assert_distance(item, to_meters(10, "km"), "mi")
        assert item["distance"]["value"] == pytest.approx(6.2137, rel=0.005)

    @pytest.mark.parametrize(
        ("radius", "unit", "radius_m"),
        [
            (None, None, to_meters(25, "mi")),  # the default radius is 25 miles
            (None, "km", to_meters(25, "km")),  # ... in the unit asked for
            (0.5, "mi", to_meters(0.5, "mi")),
            (5, "mi", to_meters(5, "mi")),
            (100, "mi", to_meters(100, "mi")),  # the maximum
            (10, "km", to_meters(10, "km")),
            (100, "km", to_meters(100, "km")),
        ],
    )
    async def test_radius_edge_inside_included_outside_excluded(
        self, api: Api, practice: Org, radius: float | None, unit: str | None, radius_m: float
    ) -> None:
        origin = (39.0997, -94.5786)
        inside: set[str] = set()
        for azimuth in (0, 45, 90, 180, 270):
            for share in (0.995, 1.005):
                loc = await place(api, practice, *offset(origin, azimuth, share * radius_m))
                prov = await api.provider(practice, [loc["id"]],
                                          last_name=f"At {azimuth} deg x{share}")
                if share < 1:
                    inside.add(prov["id"])

        items = await search_all(api.client, "/v1/providers", lat=origin[0], lon=origin[1],
                                 radius=radius, unit=unit, limit=100)

        assert set(ids(items)) == inside
        for item in items:
            assert_distance(item, 0.995 * radius_m, unit or "mi")

    async def test_ordered_by_true_distance_where_spherical_order_differs(
        self, api: Api, practice: Org
    ) -> None:
        """North-south and east-west distances of the same spherical length differ by
        about 0.4 % at 40 deg N; pairs built 0.2 % apart flip between the two orders."""
        origin = (40.7580, -73.9855)
        truth: dict[str, float] = {}
        for k in range(1, 9):
            d = k * 9_000.0
            for azimuth, share in ((0, 1.0), (90, 1.002), (180, 1.0005), (270, 1.0025)):
                loc = await place(api, practice, *offset(origin, azimuth, d * share))
                prov = await api.provider(practice, [loc["id"]], last_name=f"R{k} {azimuth}")
                truth[prov["id"]] = d * share

        for limit in (3, 7, 100):
            items = await search_all(api.client, "/v1/providers", lat=origin[0],
                                     lon=origin[1], radius=100, unit="km", limit=limit)
            assert ids(items) == expected_order(truth.items()), f"limit={limit}"

    async def test_ordered_by_true_distance_when_many_are_nearly_equidistant(
        self, api: Api, practice: Org
    ) -> None:
        """Ten providers due north are truly nearer than ten due east although every one
        of the eastern ones is nearer on a sphere: a page must not be cut from the
        spherical order."""
        origin = (40.7580, -73.9855)
        truth: dict[str, float] = {}
        for i in range(10):
            for azimuth, share in ((0, 1.0), (90, 1.003)):
                meters = 20_000.0 * (share + 0.0001 * i)
                loc = await place(api, practice, *offset(origin, azimuth, meters))
                prov = await api.provider(practice, [loc["id"]], last_name=f"Az{azimuth} {i}")
                truth[prov["id"]] = meters

        for limit in (1, 3, 4, 9, 100):
            items = await search_all(api.client, "/v1/providers", lat=origin[0],
                                     lon=origin[1], limit=limit)
            assert ids(items) == expected_order(truth.items()), f"limit={limit}"

    async def test_nothing_in_range_is_an_empty_page(self, api: Api, practice: Org) -> None:
        loc = await place(api, practice, 40.7580, -73.9855)
        await api.provider(practice, [loc["id"]])

        body = await get_ok(api.client, "/v1/providers", lat=34.05, lon=-118.24, radius=100)

        assert body == {"items": [], "next_cursor": None}

    async def test_location_at_the_search_point_is_at_distance_zero(
        self, api: Api, practice: Org
    ) -> None:
        loc = await place(api, practice, 41.8781, -87.6298)
        prov = await api.provider(practice, [loc["id"]])

        body = await get_ok(api.client, "/v1/providers", lat=41.8781, lon=-87.6298, unit="km")

        assert ids(body["items"]) == [prov["id"]]
        assert body["items"][0]["distance"] == {"value": pytest.approx(0, abs=1e-6),
                                                "unit": "km"}


class TestSearchProvidersByZip:
    @pytest.mark.parametrize("zip_code", ["10001", "66101", "75501", "96813", "99701"])
    async def test_zip_centroid_is_the_search_point(
        self, api: Api, practice: Org, zip_code: str
    ) -> None:
        centroid = zip_point(zip_code)
        radius_m = to_meters(25, "mi")
        truth: dict[str, float] = {}
        for azimuth in (10, 100, 200, 300):
            for meters in (1_500.0, 0.995 * radius_m, 1.005 * radius_m):
                loc = await place(api, practice, *offset(centroid, azimuth, meters))
                prov = await api.provider(practice, [loc["id"]])
                if meters < radius_m:
                    truth[prov["id"]] = meters

        items = await search_all(api.client, "/v1/providers", zip=zip_code, limit=100)

        assert ids(items) == expected_order(truth.items())
        for item in items:
            assert_distance(item, truth[item["id"]], "mi")

    async def test_zip_search_equals_search_at_the_centroid(
        self, api: Api, practice: Org
    ) -> None:
        centroid = zip_point("10001")
        for n, azimuth in enumerate(range(0, 360, 40)):
            loc = await place(api, practice, *offset(centroid, azimuth, 1_000.0 + 900.0 * n))
            await api.provider(practice, [loc["id"]])

        by_zip = await get_ok(api.client, "/v1/providers", zip="10001", radius=10, unit="km")
        by_point = await get_ok(api.client, "/v1/providers", lat=centroid[0], lon=centroid[1],
                                radius=10, unit="km")

        assert len(by_zip["items"]) > 3
        assert ids(by_zip["items"]) == ids(by_point["items"])
        for a, b in zip(by_zip["items"], by_point["items"], strict=True):
            assert a["distance"]["value"] == pytest.approx(b["distance"]["value"], rel=1e-6)

    async def test_location_without_coordinates_sits_at_its_zip_centroid(
        self, api: Api, practice: Org
    ) -> None:
        loc = await api.location(practice, postal_code="10001")
        prov = await api.provider(practice, [loc["id"]])
        centroid = zip_point("10001")
        assert loc["geocode_precision"] == "postal_code"
        assert (loc["lat"], loc["lon"]) == pytest.approx(centroid, abs=1e-4)

        origin = offset(centroid, 45, 2_000.0)
        body = await get_ok(api.client, "/v1/providers", lat=origin[0], lon=origin[1], unit="km")

        assert ids(body["items"]) == [prov["id"]]
        assert_distance(body["items"][0], 2_000.0, "km")

    @pytest.mark.parametrize("zip_code", ["00000", "99999", "00001"])
    async def test_unknown_zip_is_422(self, api: Api, zip_code: str) -> None:
        assert not zipcodes.matching(zip_code)
        r = await api.client.get("/v1/providers", params={"zip": zip_code})
        assert_problem(r, 422, "/query/zip")

    @pytest.mark.parametrize("zip_code", ["1000", "100011", "abcde", "10 01"])
    async def test_malformed_zip_is_422(self, api: Api, zip_code: str) -> None:
        r = await api.client.get("/v1/providers", params={"zip": zip_code})
        assert_problem(r, 422)

    @pytest.mark.parametrize(
        "params",
        [
            {"zip": "10001", "lat": 40.75, "lon": -73.99},
            {"zip": "10001", "lat": 40.75},
            {"zip": "10001", "lon": -73.99},
        ],
    )
    async def test_zip_with_lat_or_lon_is_422(self, api: Api, params: dict[str, Any]) -> None:
        r = await api.client.get("/v1/providers", params=params)
        assert_problem(r, 422)


class TestSearchProvidersPointValidation:
    @pytest.mark.parametrize(
        ("params", "pointer"),
        [({"lat": 40.75}, "/query/lon"), ({"lon": -73.99}, "/query/lat")],
    )
    async def test_lat_without_lon_is_422(self, api: Api, params: dict[str, Any],
                                          pointer: str) -> None:
        r = await api.client.get("/v1/providers", params=params)
        assert_problem(r, 422, pointer)

    @pytest.mark.parametrize(
        ("params", "pointer"),
        [
            ({"lat": 90.5, "lon": 0}, "/query/lat"),
            ({"lat": -91, "lon": 0}, "/query/lat"),
            ({"lat": 40, "lon": 180.5}, "/query/lon"),
            ({"lat": 40, "lon": -181}, "/query/lon"),
            ({"lat": "north", "lon": -73.99}, "/query/lat"),
            ({"lat": "nan", "lon": -73.99}, "/query/lat"),
            ({"lat": 40.75, "lon": "inf"}, "/query/lon"),
        ],
    )
    async def test_out_of_range_coordinates_are_422(
        self, api: Api, params: dict[str, Any], pointer: str
    ) -> None:
        r = await api.client.get("/v1/providers", params=params)
        assert_problem(r, 422, pointer)

    @pytest.mark.parametrize("radius", ["0", "-1", "100.01", "101", "1000", "far", "nan",
                                        "inf"])
    async def test_radius_not_in_0_to_100_is_422(self, api: Api, radius: str) -> None:
        for unit in ("mi", "km"):
            r = await api.client.get(
                "/v1/providers", params={"lat": 40.75, "lon": -73.99, "radius": radius,
                                         "unit": unit}
            )
            assert_problem(r, 422, "/query/radius")

    async def test_radius_100_is_accepted(self, api: Api) -> None:
        for unit in ("mi", "km"):
            await get_ok(api.client, "/v1/providers", lat=40.75, lon=-73.99, radius=100,
                         unit=unit)

    @pytest.mark.parametrize("unit", ["m", "miles", "MI", "nm", ""])
    async def test_unknown_unit_is_422(self, api: Api, unit: str) -> None:
        r = await api.client.get("/v1/providers",
                                 params={"lat": 40.75, "lon": -73.99, "unit": unit})
        assert_problem(r, 422, "/query/unit")


# -- filters -----------------------------------------------------------------------------

ORIGIN = (40.7580, -73.9855)

# Five providers around Midtown, each differing from the others in a few attributes.
FILTER_PROVIDERS: dict[str, dict[str, Any]] = {
    "Adams": {
        "first_name": "Alice",
        "specialties": [{"code": "111N00000X", "primary": True}],
        "insurance_accepted": ["aetna", "auto_pip"],
        "conditions_treated": ["Whiplash", "Low Back Pain"],
        "languages": ["English", "Spanish"],
        "accepting_referrals": True, "accepting_new_patients": True,
        "accepts_lop": True, "telehealth": False,
    },
    "Baker": {
        "first_name": "Bob",
        "specialties": [{"code": "225100000X", "primary": True}],
        "insurance_accepted": ["medicare"],
        "conditions_treated": ["Sciatica"],
        "languages": ["English"],
        "accepting_referrals": False, "accepting_new_patients": True,
        "accepts_lop": False, "telehealth": True,
    },
    "Chen": {
        "first_name": "Carol",
        "specialties": [{"code": "208VP0000X", "primary": True},
                        {"code": "208VP0014X", "primary": False}],
        "insurance_accepted": ["bcbs", "workers_comp"],
        "conditions_treated": ["whiplash"],
        "languages": ["Mandarin"],
        "accepting_referrals": True, "accepting_new_patients": False,
        "accepts_lop": True, "telehealth": True,
    },
    "Diaz": {
        "first_name": "Dan",
        "specialties": [{"code": "171100000X", "primary": True}],
        "insurance_accepted": [],
        "conditions_treated": ["Headache"],
        "languages": ["Spanish"],
        "accepting_referrals": True, "accepting_new_patients": True,
        "accepts_lop": False, "telehealth": False,
    },
    "Adamson": {
        "first_name": "Eve",
        "specialties": [{"code": "225100000X", "primary": True},
                        {"code": "111N00000X", "primary": False}],
        "insurance_accepted": ["aetna", "medicare"],
        "conditions_treated": ["SCIATICA", "whiplash"],
        "languages": ["English"],
        "accepting_referrals": False, "accepting_new_patients": False,
        "accepts_lop": False, "telehealth": False,
    },
}
EVERYONE = set(FILTER_PROVIDERS)


@pytest.fixture
async def filter_directory(api: Api, practice: Org) -> dict[str, str]:
    """The five FILTER_PROVIDERS, each at its own location a few km from ORIGIN, plus a
    second location for Adamson. Returns last name -> id."""
    out = {}
    for n, (last_name, body) in enumerate(FILTER_PROVIDERS.items()):
        loc = await place(api, practice, *offset(ORIGIN, 72 * n, 1_000.0 * (n + 1)))
        location_ids = [loc["id"]]
        if last_name == "Adamson":
            other = await place(api, practice, *offset(ORIGIN, 200, 8_000.0))
            location_ids.append(other["id"])
        prov = await api.provider(practice, location_ids, last_name=last_name, **body)
        out[last_name] = prov["id"]
    return out


SINGLE_FILTERS = [
    ({"specialty": "111N00000X"}, {"Adams", "Adamson"}),
    ({"specialty": "chiropractor"}, {"Adams", "Adamson"}),
    ({"specialty": "225100000X"}, {"Baker", "Adamson"}),
    ({"specialty": "physical_therapist"}, {"Baker", "Adamson"}),
    ({"specialty": "pain_medicine"}, {"Chen"}),
    ({"specialty": "208VP0014X"}, {"Chen"}),
    ({"specialty": "acupuncturist"}, {"Diaz"}),
    ({"specialty": "neurology"}, set()),
    ({"insurance": "aetna"}, {"Adams", "Adamson"}),
    ({"insurance": "medicare"}, {"Baker", "Adamson"}),
    ({"insurance": "workers_comp"}, {"Chen"}),
    ({"insurance": "auto_pip"}, {"Adams"}),
    ({"insurance": "tricare"}, set()),
    ({"condition": "whiplash"}, {"Adams", "Chen", "Adamson"}),
    ({"condition": "WHIPLASH"}, {"Adams", "Chen", "Adamson"}),
    ({"condition": "Sciatica"}, {"Baker", "Adamson"}),
    ({"condition": "low back pain"}, {"Adams"}),
    ({"condition": "migraine"}, set()),
    ({"language": "Spanish"}, {"Adams", "Diaz"}),
    ({"language": "English"}, {"Adams", "Baker", "Adamson"}),
    ({"language": "Mandarin"}, {"Chen"}),
    ({"language": "French"}, set()),
    ({"accepting_referrals": True}, {"Adams", "Chen", "Diaz"}),
    ({"accepting_referrals": False}, {"Baker", "Adamson"}),
    ({"accepting_new_patients": True}, {"Adams", "Baker", "Diaz"}),
    ({"accepting_new_patients": False}, {"Chen", "Adamson"}),
    ({"accepts_lop": True}, {"Adams", "Chen"}),
    ({"accepts_lop": False}, {"Baker", "Diaz", "Adamson"}),
    ({"telehealth": True}, {"Baker", "Chen"}),
    ({"telehealth": False}, {"Adams", "Diaz", "Adamson"}),
    ({"q": "adams"}, {"Adams", "Adamson"}),
    ({"q": "Chen"}, {"Chen"}),
    ({"q": "carol chen"}, {"Chen"}),
    ({"q": "dan"}, {"Diaz"}),
    ({"q": "zzz"}, set()),
    ({"q": "%"}, set()),  # a literal, not a wildcard
    ({"q": "_"}, set()),
    ({"q": "a%n"}, set()),
]

COMBINED_FILTERS = [
    ({"specialty": "chiropractor", "insurance": "aetna"}, {"Adams", "Adamson"}),
    ({"specialty": "chiropractor", "insurance": "aetna", "condition": "whiplash",
      "accepts_lop": True}, {"Adams"}),
    ({"specialty": "physical_therapist", "insurance": "medicare",
      "accepting_new_patients": True}, {"Baker"}),
    ({"language": "English", "telehealth": False, "accepting_referrals": False},
     {"Adamson"}),
    ({"specialty": "pain_medicine", "telehealth": True, "language": "Mandarin", "q": "chen"},
     {"Chen"}),
    ({"condition": "whiplash", "accepts_lop": True}, {"Adams", "Chen"}),
    ({"language": "Spanish", "accepts_lop": False}, {"Diaz"}),
    ({"accepting_referrals": True, "accepting_new_patients": True, "telehealth": False},
     {"Adams", "Diaz"}),
    ({"q": "adam", "specialty": "physical_therapist"}, {"Adamson"}),
    ({"specialty": "acupuncturist", "insurance": "aetna"}, set()),
    ({"insurance": "aetna", "telehealth": True}, set()),
]


class TestSearchProvidersFilters:
    @pytest.mark.parametrize(("filters", "expected"), SINGLE_FILTERS + COMBINED_FILTERS,
                             ids=lambda v: repr(v) if isinstance(v, dict) else "")
    async def test_filter(self, api: Api, filter_directory: dict[str, str],
                          filters: dict[str, Any], expected: set[str]) -> None:
        wanted = {filter_directory[n] for n in expected}
        for point in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {"zip": "10001"}, {}):
            items = await search_all(api.client, "/v1/providers", **point, **filters,
                                     limit=100)
            assert set(ids(items)) == wanted, point
            assert len(items) == len(wanted), "a provider is listed twice"

    async def test_no_filter_lists_everyone(self, api: Api,
                                            filter_directory: dict[str, str]) -> None:
        items = await search_all(api.client, "/v1/providers", lat=ORIGIN[0], lon=ORIGIN[1])
        assert sorted(ids(items)) == sorted(filter_directory.values())

    @pytest.mark.parametrize("specialty", ["chiropractors", "999999999X", "111N0000X", "dentist"])
    async def test_unknown_specialty_is_422(self, api: Api, specialty: str) -> None:
        for params in ({"specialty": specialty},
                       {"specialty": specialty, "lat": 40.75, "lon": -73.99}):
            r = await api.client.get("/v1/providers", params=params)
            assert_problem(r, 422, "/query/specialty")

    @pytest.mark.parametrize("insurance", ["geico", "blue_cross", "aetna_ppo"])
    async def test_unknown_insurance_is_422(self, api: Api, insurance: str) -> None:
        for params in ({"insurance": insurance},
                       {"insurance": insurance, "lat": 40.75, "lon": -73.99}):
            r = await api.client.get("/v1/providers", params=params)
            assert_problem(r, 422, "/query/insurance")

    @pytest.mark.parametrize(
        "name", ["accepting_referrals", "accepting_new_patients", "accepts_lop", "telehealth"]
    )
    async def test_non_boolean_flag_is_422(self, api: Api, name: str) -> None:
        r = await api.client.get("/v1/providers", params={name: "maybe"})
        assert_problem(r, 422, f"/query/{name}")

    async def test_every_listed_specialty_is_searchable(
        self, api: Api, practice: Org
    ) -> None:
        listing = await get_ok(api.client, "/v1/specialties")
        codes = {s["code"]: s["slug"] for s in listing["items"]}
        loc = await place(api, practice, *ORIGIN)
        prov = await api.provider(practice, [loc["id"]],
                                  specialties=[{"code": "101YM0800X", "primary": True}])
        for code, slug in codes.items():
            for value in (code, slug):
                body = await get_ok(api.client, "/v1/providers", lat=ORIGIN[0],
                                    lon=ORIGIN[1], specialty=value)
                want = [prov["id"]] if code == "101YM0800X" else []
                assert ids(body["items"]) == want, value


# -- multi-location providers ------------------------------------------------------------


class TestSearchProvidersMultiLocation:
    async def test_listed_once_at_its_nearest_location(self, api: Api, practice: Org) -> None:
        manhattan = await place(api, practice, 40.7128, -74.0060, city="New York")
        hoboken = await place(api, practice, 40.7440, -74.0324, city="Hoboken", state="NJ",
                              postal_code="07030")
        greenwich = await place(api, practice, 41.0262, -73.6282, city="Greenwich",
                                state="CT", postal_code="06830")
        prov = await api.provider(practice, [manhattan["id"], hoboken["id"], greenwich["id"]])

        for origin, nearest in (
            ((40.7420, -74.0290), hoboken),    # near Hoboken station
            ((40.7075, -74.0113), manhattan),  # Wall Street
            ((41.0300, -73.6200), greenwich),
        ):
            for unit in ("mi", "km"):
                body = await get_ok(api.client, "/v1/providers", lat=origin[0], lon=origin[1],
                                    radius=50, unit=unit)
                [item] = body["items"]
                assert item["id"] == prov["id"]
                assert item["nearest_location"]["id"] == nearest["id"]
                assert item["nearest_location"]["lat"] == pytest.approx(nearest["lat"])
                assert item["nearest_location"]["lon"] == pytest.approx(nearest["lon"])
                assert_distance(item, geodesic_m(origin, (nearest["lat"], nearest["lon"])),
                                unit)

    async def test_two_locations_at_the_same_point_list_the_provider_once(
        self, api: Api, practice: Org
    ) -> None:
        spot = offset(ORIGIN, 45, 1_200.0)
        suite_a = await place(api, practice, *spot)
        suite_b = await place(api, practice, *spot)
        prov = await api.provider(practice, [suite_a["id"], suite_b["id"]],
                                  specialties=[{"code": "111N00000X", "primary": True},
                                               {"code": "225100000X"}])
        others = [await api.provider(practice, [suite_b["id"]]) for _ in range(3)]

        for filters in ({}, {"specialty": "physical_therapist"}):
            items = await search_all(api.client, "/v1/providers", lat=ORIGIN[0],
                                     lon=ORIGIN[1], limit=1, **filters)
            want = [prov["id"], *(o["id"] for o in others)] if not filters else [prov["id"]]
            assert sorted(ids(items)) == sorted(want), filters
            [item] = [i for i in items if i["id"] == prov["id"]]
            assert item["nearest_location"]["id"] in {suite_a["id"], suite_b["id"]}
            assert_distance(item, 1_200.0, "mi")

    async def test_found_when_only_one_location_is_inside_the_radius(
        self, api: Api, practice: Org
    ) -> None:
        near = await place(api, practice, 39.1141, -94.6275, city="Kansas City", state="KS")
        far = await place(api, practice, 38.6270, -90.1994, city="St. Louis", state="MO")
        prov = await api.provider(practice, [far["id"], near["id"]])

        body = await get_ok(api.client, "/v1/providers", lat=39.0997, lon=-94.5786, radius=10)

        [item] = body["items"]
        assert item["id"] == prov["id"]
        assert item["nearest_location"]["id"] == near["id"]
        assert_distance(item, geodesic_m((39.0997, -94.5786), (39.1141, -94.6275)), "mi")

    async def test_many_multi_location_providers_paginate_once_each_by_nearest_distance(
        self, api: Api, practice: Org
    ) -> None:
        origin = (36.5960, -82.1880)
        truth: dict[str, float] = {}
        nearest: dict[str, str] = {}
        specialty_sets = [
            [{"code": "111N00000X", "primary": True}],
            [{"code": "225100000X", "primary": True}, {"code": "111N00000X"}],
            [{"code": "111N00000X", "primary": True}, {"code": "225100000X"},
             {"code": "208VP0000X"}],
        ]
        for n in range(9):
            locs = []
            for j in range(3):
                meters = 1_000.0 * (n + 1) + 9_000.0 * j + 37.0 * j * n
                point = offset(origin, (40 * n + 130 * j) % 360, meters)
                locs.append((meters, await place(api, practice, *point)))
            prov = await api.provider(practice, [loc["id"] for _, loc in reversed(locs)],
                                      specialties=specialty_sets[n % 3])
            truth[prov["id"]], nearest_loc = min(locs, key=lambda m: m[0])
            nearest[prov["id"]] = nearest_loc["id"]

        for filters in ({}, {"specialty": "chiropractor"}):
            items = await search_all(api.client, "/v1/providers", lat=origin[0],
                                     lon=origin[1], radius=60, unit="km", limit=2, **filters)
            assert ids(items) == expected_order(truth.items()), filters
            for item in items:
                assert item["nearest_location"]["id"] == nearest[item["id"]]
                assert_distance(item, truth[item["id"]], "km")

        items = await search_all(api.client, "/v1/providers", lat=origin[0], lon=origin[1],
                                 radius=60, unit="km", limit=2, specialty="225100000X")
        expected = [i for i in expected_order(truth.items())
                    if list(truth).index(i) % 3 != 0]
        assert ids(items) == expected


# -- without a point ---------------------------------------------------------------------


class TestSearchProvidersWithoutPoint:
    async def test_ordered_by_last_name_first_name_then_id(
        self, api: Api, practice: Org
    ) -> None:
        loc = await place(api, practice, *ORIGIN)
        far = await place(api, practice, 34.05, -118.24, city="Los Angeles", state="CA",
                          postal_code="90012")
        names = [("Zoe", "Adams"), ("Ann", "Baker"), ("Bob", "Adams"), ("Bob", "Adams"),
                 ("Carl", "Baker"), ("Bob", "Adams"), ("Amy", "Young"), ("Ann", "Baker")]
        created = []
        for n, (first, last) in enumerate(names):
            prov = await api.provider(practice, [(loc if n % 2 else far)["id"]],
                                      first_name=first, last_name=last)
            created.append((last, first, uuid.UUID(prov["id"])))
        expected = [str(i) for _, _, i in sorted(created)]

        for limit in (1, 3, 20):
            items = await search_all(api.client, "/v1/providers", limit=limit)
            assert ids(items) == expected, f"limit={limit}"
            assert all(item.get("distance") is None for item in items)
            assert all(item.get("nearest_location") is None for item in items)


# -- pagination --------------------------------------------------------------------------


async def _spread(api: Api, org: Org, origin: tuple[float, float], count: int,
                  *, start_m: float = 500.0, step_m: float = 700.0) -> dict[str, float]:
    """`count` providers at distinct distances from origin (three to a location)."""
    truth: dict[str, float] = {}
    loc: dict[str, Any] = {}
    meters = start_m
    for n in range(count):
        if n % 3 == 0:
            meters = start_m + step_m * (n // 3)
            loc = await place(api, org, *offset(origin, (n * 47) % 360, meters))
        prov = await api.provider(org, [loc["id"]], first_name=f"F{n:02d}",
                                  last_name=f"L{(n * 7) % 45:02d}")
        truth[prov["id"]] = meters
    return truth


class TestSearchProvidersPagination:
    async def test_following_next_cursor_returns_every_match_once_in_order(
        self, api: Api, practice: Org
    ) -> None:
        truth = await _spread(api, practice, ORIGIN, 45)
        outside = await place(api, practice, *offset(ORIGIN, 0, 60_000.0))
        await api.provider(practice, [outside["id"]])

        pages = []
        cursor = None
        while True:
            body = await get_ok(api.client, "/v1/providers", lat=ORIGIN[0], lon=ORIGIN[1],
                                radius=25, unit="km", limit=10, cursor=cursor)
            pages.append(ids(body["items"]))
            cursor = body["next_cursor"]
            if cursor is None:
                break
            assert isinstance(cursor, str)

        assert len(pages[0]) == 10
        assert all(len(p) <= 10 for p in pages)
        assert list(itertools.chain(*pages)) == expected_order(truth.items())

    async def test_without_point_every_match_once_in_name_order(
        self, api: Api, practice: Org
    ) -> None:
        await _spread(api, practice, ORIGIN, 45)
        everyone = await search_all(api.client, "/v1/providers", limit=100)
        expected = [i["id"] for i in sorted(
            everyone, key=lambda i: (i["last_name"], i["first_name"], uuid.UUID(i["id"])))]
        assert len(everyone) == 45

        items = await search_all(api.client, "/v1/providers", limit=10)

        assert ids(items) == expected

    async def test_exact_multiple_of_limit_ends_with_null_cursor(
        self, api: Api, practice: Org
    ) -> None:
        truth = await _spread(api, practice, ORIGIN, 10)
        first = await get_ok(api.client, "/v1/providers", lat=ORIGIN[0], lon=ORIGIN[1],
                             limit=5)
        assert first["next_cursor"] is not None
        second = await get_ok(api.client, "/v1/providers", lat=ORIGIN[0], lon=ORIGIN[1],
                              limit=5, cursor=first["next_cursor"])
        assert ids(first["items"]) + ids(second["items"]) == expected_order(truth.items())
        if second["next_cursor"] is not None:
            third = await get_ok(api.client, "/v1/providers", lat=ORIGIN[0], lon=ORIGIN[1],
                                 limit=5, cursor=second["next_cursor"])
            assert third == {"items": [], "next_cursor": None}

    async def test_default_limit_is_20_and_100_is_allowed(
        self, api: Api, practice: Org
    ) -> None:
        await _spread(api, practice, ORIGIN, 25)
        for point in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {}):
            body = await get_ok(api.client, "/v1/providers", **point)
            assert len(body["items"]) == 20
            assert body["next_cursor"] is not None
            body = await get_ok(api.client, "/v1/providers", **point, limit=100)
            assert len(body["items"]) == 25
            assert body["next_cursor"] is None

    @pytest.mark.parametrize("limit", ["0", "101", "-1", "1000", "ten", "2.5"])
    async def test_limit_out_of_range_is_422(self, api: Api, limit: str) -> None:
        for point in ({"lat": 40.75, "lon": -73.99}, {}):
            r = await api.client.get("/v1/providers", params={**point, "limit": limit})
            assert_problem(r, 422, "/query/limit")

    async def _a_cursor(self, api: Api, practice: Org, **params: Any) -> str:
        await _spread(api, practice, ORIGIN, 6)
        body = await get_ok(api.client, "/v1/providers", limit=2, **params)
        cursor = body["next_cursor"]
        assert isinstance(cursor, str)
        return cursor

    @pytest.mark.parametrize("garbage", ["garbage", "!!!!", "x" * 40, "eyJ9", "bnVsbA",
                                         "W10", "eyJwIjpbXX0", "%00%ff"])
    async def test_garbage_cursor_is_422(self, api: Api, garbage: str) -> None:
        for point in ({"lat": 40.75, "lon": -73.99}, {}):
            r = await api.client.get("/v1/providers", params={**point, "cursor": garbage})
            assert_problem(r, 422, "/query/cursor")

    @pytest.mark.parametrize("point", [{"lat": ORIGIN[0], "lon": ORIGIN[1]}, {}],
                             ids=["point", "no-point"])
    async def test_tampered_cursor_is_422(self, api: Api, practice: Org,
                                          point: dict[str, Any]) -> None:
        cursor = await self._a_cursor(api, practice, **point)
        tampered = [cursor[: len(cursor) // 2], cursor[:-3], cursor[::-1], cursor + "AAAA",
                    "A" + cursor]
        try:  # while the cursor is base64, also a well-formed encoding of a broken document
            decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except ValueError:
            decoded = b""
        if decoded.startswith(b"{"):
            tampered += [base64.urlsafe_b64encode(decoded[:-2]).decode(),
                         base64.urlsafe_b64encode(b"[" + decoded[1:]).decode()]
        for bad in tampered:
            r = await api.client.get("/v1/providers",
                                     params={**point, "limit": 2, "cursor": bad})
            assert_problem(r, 422, "/query/cursor")

    @pytest.mark.parametrize(
        "changed",
        [
            {"specialty": "physical_therapist"},
            {"radius": 10},
            {"unit": "km"},
            {"lat": ORIGIN[0] + 0.01, "lon": ORIGIN[1]},
            {"zip": "10001", "lat": None, "lon": None},
            {"lat": None, "lon": None},
            {"telehealth": True},
            {"q": "pat"},
        ],
    )
    async def test_cursor_reused_with_other_filters_is_422(
        self, api: Api, practice: Org, changed: dict[str, Any]
    ) -> None:
        first = {"lat": ORIGIN[0], "lon": ORIGIN[1], "specialty": "chiropractor"}
        cursor = await self._a_cursor(api, practice, **first)

        r = await api.client.get("/v1/providers", params=_query(
            {**first, **changed, "limit": 2, "cursor": cursor}))

        assert_problem(r, 422, "/query/cursor")

    async def test_name_order_cursor_reused_with_a_point_is_422(
        self, api: Api, practice: Org
    ) -> None:
        cursor = await self._a_cursor(api, practice)
        r = await api.client.get("/v1/providers", params={
            "lat": ORIGIN[0], "lon": ORIGIN[1], "limit": 2, "cursor": cursor})
        assert_problem(r, 422, "/query/cursor")

    async def test_provider_cursor_on_attorney_search_is_422(
        self, api: Api, practice: Org
    ) -> None:
        await _spread(api, practice, ORIGIN, 3)
        for point in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {}):
            body = await get_ok(api.client, "/v1/providers", limit=1, **point)
            cursor = body["next_cursor"]
            assert isinstance(cursor, str)
            r = await api.client.get("/v1/attorneys",
                                     params={**point, "limit": 2, "cursor": cursor})
            assert_problem(r, 422, "/query/cursor")

    async def test_inserts_while_paging_by_distance_never_skip_or_repeat(
        self, api: Api, practice: Org
    ) -> None:
        truth = await _spread(api, practice, ORIGIN, 30, start_m=1_000.0, step_m=900.0)
        at_start = set(truth)
        seen: list[str] = []
        last_distance = 0.0
        cursor = None
        for page_no in range(100):
            body = await get_ok(api.client, "/v1/providers", lat=ORIGIN[0], lon=ORIGIN[1],
                                radius=25, unit="km", limit=7, cursor=cursor)
            seen += ids(body["items"])
            distances = [i["distance"]["value"] for i in body["items"]]
            assert distances == sorted(distances)
            assert not distances or distances[0] >= last_distance - 1e-9
            if distances:
                last_distance = distances[-1]
            cursor = body["next_cursor"]
            if cursor is None:
                break
            # new providers: nearer than anything returned so far, inside the page just
            # returned, at exactly the last returned point, and farther than this page
            last = body["items"][-1]["nearest_location"]
            for meters in (100.0, 1_000.0 * last_distance * 0.9,
                           1_000.0 * last_distance + 400.0, 20_000.0 + 50 * page_no):
                loc = await place(api, practice, *offset(ORIGIN, 123, meters))
                await api.provider(practice, [loc["id"]])
            await api.provider(practice, [last["id"]])
        else:
            raise AssertionError("paging never ended")

        assert len(seen) == len(set(seen)), "a provider was returned twice"
        assert at_start <= set(seen), "a provider that existed at the start was skipped"

    async def test_inserts_while_paging_by_name_never_skip_or_repeat(
        self, api: Api, practice: Org
    ) -> None:
        truth = await _spread(api, practice, ORIGIN, 30)
        loc = await place(api, practice, *ORIGIN)
        at_start = set(truth)
        seen: list[str] = []
        cursor = None
        for page_no in range(100):
            body = await get_ok(api.client, "/v1/providers", limit=7, cursor=cursor)
            seen += ids(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
            last = body["items"][-1]
            for first, last_name in (("A", "L00"), (last["first_name"], last["last_name"]),
                                     ("Z", last["last_name"]), ("M", f"L99{page_no}")):
                await api.provider(practice, [loc["id"]], first_name=first,
                                   last_name=last_name)
        else:
            raise AssertionError("paging never ended")

        assert len(seen) == len(set(seen)), "a provider was returned twice"
        assert at_start <= set(seen), "a provider that existed at the start was skipped"

    async def test_tied_distances_paginate_deterministically_by_id(
        self, api: Api, practice: Org
    ) -> None:
        origin = (39.0997, -94.5786)
        spot = offset(origin, 60, 3_000.0)
        shared = await place(api, practice, *spot)
        twin = await place(api, practice, *spot)  # another location at the same point
        nearer = await place(api, practice, *offset(origin, 240, 1_000.0))
        farther = await place(api, practice, *offset(origin, 150, 5_000.0))
        truth: dict[str, float] = {}
        for loc, count, meters in ((shared, 12, 3_000.0), (twin, 6, 3_000.0),
                                   (nearer, 3, 1_000.0), (farther, 3, 5_000.0)):
            for _ in range(count):
                prov = await api.provider(practice, [loc["id"]])
                truth[prov["id"]] = meters
        expected = expected_order(truth.items())

        runs = [
            await search_all(api.client, "/v1/providers", lat=origin[0], lon=origin[1],
                             limit=limit)
            for limit in (4, 4, 5, 1, 100)
        ]

        for items in runs:
            assert ids(items) == expected
        tied = [i for i in runs[0] if truth[i["id"]] == 3_000.0]
        assert len({i["distance"]["value"] for i in tied}) == 1


# -- the directory changes ---------------------------------------------------------------


class TestSearchProvidersReflectsChanges:
    async def test_deactivated_provider_drops_out(self, api: Api, practice: Org) -> None:
        loc = await place(api, practice, *ORIGIN)
        keep = await api.provider(practice, [loc["id"]], last_name="Keep")
        gone = await api.provider(practice, [loc["id"]], last_name="Gone")
        multi = await place(api, practice, *offset(ORIGIN, 90, 2_000.0))
        gone_multi = await api.provider(practice, [multi["id"], loc["id"]], last_name="Gone")

        for victim in (gone, gone_multi):
            r = await api.client.delete(f"/v1/providers/{victim['id']}",
                                        headers=practice.headers)
            assert r.status_code == 204, r.text

        for params in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {"zip": "10001"}, {},
                       {"q": "gone"}, {"specialty": "chiropractor"}):
            body = await get_ok(api.client, "/v1/providers", **params)
            assert ids(body["items"]) == ([] if params.get("q") else [keep["id"]]), params

    async def test_patching_location_ids_moves_the_provider(
        self, api: Api, practice: Org
    ) -> None:
        nyc = await place(api, practice, 40.7128, -74.0060, city="New York")
        kc = await place(api, practice, 39.1141, -94.6275, city="Kansas City", state="KS",
                         postal_code="66101")
        prov = await api.provider(practice, [nyc["id"]])

        r = await api.client.patch(f"/v1/providers/{prov['id']}",
                                   json={"location_ids": [kc["id"]]}, headers=practice.headers)
        assert r.status_code == 200, r.text

        near_nyc = await get_ok(api.client, "/v1/providers", lat=40.7580, lon=-73.9855)
        near_kc = await get_ok(api.client, "/v1/providers", lat=39.0997, lon=-94.5786)
        assert near_nyc["items"] == []
        [item] = near_kc["items"]
        assert item["nearest_location"]["id"] == kc["id"]
        assert item["location_ids"] == [kc["id"]]
        assert_distance(item, geodesic_m((39.0997, -94.5786), (39.1141, -94.6275)), "mi")

    async def test_adding_a_nearer_location_changes_the_distance(
        self, api: Api, practice: Org
    ) -> None:
        origin = (40.7580, -73.9855)
        far = await place(api, practice, *offset(origin, 0, 20_000.0))
        near = await place(api, practice, *offset(origin, 180, 2_000.0))
        prov = await api.provider(practice, [far["id"]])

        r = await api.client.patch(f"/v1/providers/{prov['id']}",
                                   json={"location_ids": [far["id"], near["id"]]},
                                   headers=practice.headers)
        assert r.status_code == 200, r.text

        body = await get_ok(api.client, "/v1/providers", lat=origin[0], lon=origin[1],
                            unit="km")
        [item] = body["items"]
        assert item["nearest_location"]["id"] == near["id"]
        assert_distance(item, 2_000.0, "km")

    async def test_moving_a_location_moves_everyone_listed_there(
        self, api: Api, practice: Org, law_firm: Org
    ) -> None:
        origin = (39.0997, -94.5786)
        loc = await place(api, practice, *offset(origin, 90, 2_000.0))
        a = await api.provider(practice, [loc["id"]])
        b = await api.provider(practice, [loc["id"]])

        new_point = offset(origin, 270, 30_000.0)
        r = await api.client.patch(
            f"/v1/organizations/{practice.id}/locations/{loc['id']}",
            json={"lat": new_point[0], "lon": new_point[1]}, headers=practice.headers,
        )
        assert r.status_code == 200, r.text

        small = await get_ok(api.client, "/v1/providers", lat=origin[0], lon=origin[1],
                             radius=10, unit="km")
        assert small["items"] == []
        wide = await get_ok(api.client, "/v1/providers", lat=origin[0], lon=origin[1],
                            radius=50, unit="km")
        assert sorted(ids(wide["items"])) == sorted([a["id"], b["id"]])
        for item in wide["items"]:
            assert_distance(item, 30_000.0, "km")
            assert item["nearest_location"]["lat"] == pytest.approx(new_point[0])

        # attorneys listed at a moved location move too
        firm_loc = await place(api, law_firm, *offset(origin, 0, 1_000.0))
        att = await api.attorney(law_firm, [firm_loc["id"]])
        moved = offset(origin, 0, 40_000.0)
        r = await api.client.patch(
            f"/v1/organizations/{law_firm.id}/locations/{firm_loc['id']}",
            json={"lat": moved[0], "lon": moved[1]}, headers=law_firm.headers,
        )
        assert r.status_code == 200, r.text
        near = await get_ok(api.client, "/v1/attorneys", lat=origin[0], lon=origin[1],
                            radius=10, unit="km")
        assert near["items"] == []
        wide = await get_ok(api.client, "/v1/attorneys", lat=origin[0], lon=origin[1],
                            radius=50, unit="km")
        assert ids(wide["items"]) == [att["id"]]
        assert_distance(wide["items"][0], 40_000.0, "km")

    async def test_new_address_without_coordinates_moves_to_its_zip_centroid(
        self, api: Api, practice: Org
    ) -> None:
        loc = await place(api, practice, *ORIGIN)
        prov = await api.provider(practice, [loc["id"]])
        gone = await api.provider(practice, [loc["id"]])
        r = await api.client.delete(f"/v1/providers/{gone['id']}", headers=practice.headers)
        assert r.status_code == 204, r.text

        r = await api.client.patch(
            f"/v1/organizations/{practice.id}/locations/{loc['id']}",
            json={"address": {"line1": "1 State Line Rd", "city": "Kansas City",
                              "state": "KS", "postal_code": "66101"}},
            headers=practice.headers,
        )
        assert r.status_code == 200, r.text

        assert (await get_ok(api.client, "/v1/providers", zip="10001"))["items"] == []
        body = await get_ok(api.client, "/v1/providers", zip="66101", unit="km")
        [item] = body["items"]  # the deactivated provider stays out
        assert item["id"] == prov["id"]
        assert item["distance"]["value"] == pytest.approx(0, abs=0.01)
        assert (item["nearest_location"]["lat"], item["nearest_location"]["lon"]) == (
            pytest.approx(zip_point("66101"), abs=1e-4))

    async def test_patching_attributes_changes_filter_results(
        self, api: Api, practice: Org
    ) -> None:
        loc = await place(api, practice, *ORIGIN)
        prov = await api.provider(practice, [loc["id"]], accepts_lop=False,
                                  insurance_accepted=["aetna"], last_name="Before")

        r = await api.client.patch(
            f"/v1/providers/{prov['id']}",
            json={"accepts_lop": True, "insurance_accepted": ["medicare"],
                  "specialties": [{"code": "225100000X", "primary": True}],
                  "last_name": "After", "languages": ["Spanish"]},
            headers=practice.headers,
        )
        assert r.status_code == 200, r.text

        for point in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {}):
            for params, found in (
                ({"accepts_lop": True}, True), ({"accepts_lop": False}, False),
                ({"insurance": "medicare"}, True), ({"insurance": "aetna"}, False),
                ({"specialty": "physical_therapist"}, True),
                ({"specialty": "chiropractor"}, False),
                ({"q": "after"}, True), ({"q": "before"}, False),
                ({"language": "Spanish"}, True),
            ):
                body = await get_ok(api.client, "/v1/providers", **point, **params)
                assert ids(body["items"]) == ([prov["id"]] if found else []), (point, params)


# -- the request as a whole --------------------------------------------------------------


class TestSearchProvidersRequest:
    @pytest.mark.parametrize("name", ["radious", "page", "specialties", "sort", "offset",
                                      "practice_area"])
    async def test_unknown_query_parameter_is_422(self, api: Api, name: str) -> None:
        for point in ({"lat": 40.75, "lon": -73.99}, {}):
            r = await api.client.get("/v1/providers", params={**point, name: "1"})
            assert_problem(r, 422, f"/query/{name}")

    async def test_public_without_authorization(self, api: Api, practice: Org,
                                                app: Any) -> None:
        loc = await place(api, practice, *ORIGIN)
        prov = await api.provider(practice, [loc["id"]])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://testserver") as anonymous:
            for params in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {"zip": "10001"}, {}):
                r = await anonymous.get("/v1/providers", params=params)
                assert r.status_code == 200, r.text
                assert ids(r.json()["items"]) == [prov["id"]]
            r = await anonymous.get("/v1/attorneys")
            assert r.status_code == 200, r.text

    async def test_items_carry_the_directory_entry_and_no_phi(
        self, api: Api, filter_directory: dict[str, str]
    ) -> None:
        for params in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {}):
            r = await api.client.get("/v1/providers", params=params)
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/json")
            items = r.json()["items"]
            assert len(items) == len(FILTER_PROVIDERS)
            for item in items:
                assert not (all_keys(item) & PHI_KEYS)
                assert {"id", "npi", "first_name", "last_name", "specialties",
                        "location_ids", "accepting_referrals", "accepting_new_patients",
                        "accepts_lop", "telehealth"} <= set(item)
                assert item["active"] is True
                body = FILTER_PROVIDERS[item["last_name"]]
                assert item["first_name"] == body["first_name"]
                assert item["accepts_lop"] == body["accepts_lop"]
                assert [s["code"] for s in item["specialties"]] == [
                    s["code"] for s in body["specialties"]]
                if params:
                    assert item["distance"]["unit"] == "mi"
                    assert item["nearest_location"]["id"] in item["location_ids"]


# -- attorneys ---------------------------------------------------------------------------


class TestSearchAttorneys:
    @pytest.mark.parametrize("unit", ["mi", "km"])
    async def test_distances_match_geodesic_across_state_lines(
        self, api: Api, law_firm: Org, unit: str
    ) -> None:
        scenario = SCENARIOS["kansas-city-missouri-kansas"]
        radius_m = to_meters(scenario.radius_mi, "mi")
        truth: dict[str, float] = {}
        for p in scenario.places:
            loc = await place(api, law_firm, p.lat, p.lon, city=p.city, state=p.state,
                              postal_code=p.postal_code)
            att = await api.attorney(law_firm, [loc["id"]], bar_state=p.state)
            d = geodesic_m(scenario.origin, (p.lat, p.lon))
            if d <= radius_m:
                truth[att["id"]] = d
        radius = scenario.radius_mi if unit == "mi" else scenario.radius_mi * 1.609344

        items = await search_all(api.client, "/v1/attorneys", lat=scenario.origin[0],
                                 lon=scenario.origin[1], radius=radius, unit=unit, limit=2)

        assert ids(items) == expected_order(truth.items())
        for item in items:
            assert_distance(item, truth[item["id"]], unit)

    async def test_radius_edge_and_default_radius(self, api: Api, law_firm: Org) -> None:
        origin = (33.4300, -94.0430)
        inside = set()
        for azimuth in (0, 90, 200):
            for share in (0.995, 1.005):
                loc = await place(api, law_firm,
                                  *offset(origin, azimuth, share * to_meters(25, "mi")))
                att = await api.attorney(law_firm, [loc["id"]])
                if share < 1:
                    inside.add(att["id"])

        body = await get_ok(api.client, "/v1/attorneys", lat=origin[0], lon=origin[1])

        assert set(ids(body["items"])) == inside

    async def test_multi_location_attorney_once_at_nearest(
        self, api: Api, law_firm: Org
    ) -> None:
        origin = (40.7420, -74.0290)
        nyc = await place(api, law_firm, 40.7128, -74.0060)
        hoboken = await place(api, law_firm, 40.7440, -74.0324, state="NJ")
        att = await api.attorney(law_firm, [nyc["id"], hoboken["id"]])

        body = await get_ok(api.client, "/v1/attorneys", lat=origin[0], lon=origin[1])

        [item] = body["items"]
        assert item["id"] == att["id"]
        assert item["nearest_location"]["id"] == hoboken["id"]
        assert_distance(item, geodesic_m(origin, (40.7440, -74.0324)), "mi")

    async def test_practice_area_and_accepting_clients_filters(
        self, api: Api, law_firm: Org
    ) -> None:
        loc = await place(api, law_firm, *ORIGIN)
        pi = await api.attorney(law_firm, [loc["id"]], last_name="Injury",
                                practice_areas=["personal_injury"], accepting_clients=True)
        wc = await api.attorney(law_firm, [loc["id"]], last_name="Comp",
                                practice_areas=["workers_comp", "personal_injury"],
                                accepting_clients=False)
        mm = await api.attorney(law_firm, [loc["id"]], last_name="Malpractice",
                                practice_areas=["medical_malpractice", "premises_liability"],
                                accepting_clients=True)
        cases = [
            ({"practice_area": "personal_injury"}, {pi["id"], wc["id"]}),
            ({"practice_area": "workers_comp"}, {wc["id"]}),
            ({"practice_area": "premises_liability"}, {mm["id"]}),
            ({"practice_area": "medical_malpractice"}, {mm["id"]}),
            ({"accepting_clients": True}, {pi["id"], mm["id"]}),
            ({"accepting_clients": False}, {wc["id"]}),
            ({"practice_area": "personal_injury", "accepting_clients": True}, {pi["id"]}),
            ({"practice_area": "premises_liability", "accepting_clients": False}, set()),
            ({"q": "comp"}, {wc["id"]}),
        ]
        for point in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {"zip": "10001"}, {}):
            for filters, expected in cases:
                items = await search_all(api.client, "/v1/attorneys", **point, **filters)
                assert set(ids(items)) == expected, (point, filters)
                assert len(items) == len(expected)

    @pytest.mark.parametrize("value", ["divorce", "PI", "personal injury"])
    async def test_unknown_practice_area_is_422(self, api: Api, value: str) -> None:
        r = await api.client.get("/v1/attorneys", params={"practice_area": value})
        assert_problem(r, 422, "/query/practice_area")

    @pytest.mark.parametrize(
        ("params", "pointer"),
        [
            ({"lat": 40.75}, "/query/lon"),
            ({"zip": "00000"}, "/query/zip"),
            ({"lat": 40.75, "lon": -73.99, "radius": 0}, "/query/radius"),
            ({"lat": 40.75, "lon": -73.99, "radius": 101}, "/query/radius"),
            ({"limit": 0}, "/query/limit"),
            ({"limit": 101}, "/query/limit"),
            ({"cursor": "garbage"}, "/query/cursor"),
            ({"specialty": "chiropractor"}, "/query/specialty"),
            ({"accepting_clients": "perhaps"}, "/query/accepting_clients"),
        ],
    )
    async def test_invalid_parameters_are_422(self, api: Api, params: dict[str, Any],
                                              pointer: str) -> None:
        r = await api.client.get("/v1/attorneys", params=params)
        assert_problem(r, 422, pointer)

    async def test_without_point_ordered_by_name_and_paginated(
        self, api: Api, law_firm: Org
    ) -> None:
        loc = await place(api, law_firm, *ORIGIN)
        created = []
        for n in range(13):
            first, last = f"F{n % 3}", f"L{(n * 5) % 4}"
            att = await api.attorney(law_firm, [loc["id"]], first_name=first, last_name=last)
            created.append((last, first, uuid.UUID(att["id"])))
        expected = [str(i) for _, _, i in sorted(created)]

        items = await search_all(api.client, "/v1/attorneys", limit=4)

        assert ids(items) == expected
        assert all(i.get("distance") is None for i in items)

    async def test_deactivated_attorney_drops_out(self, api: Api, law_firm: Org) -> None:
        loc = await place(api, law_firm, *ORIGIN)
        keep = await api.attorney(law_firm, [loc["id"]])
        gone = await api.attorney(law_firm, [loc["id"]])

        r = await api.client.delete(f"/v1/attorneys/{gone['id']}", headers=law_firm.headers)
        assert r.status_code == 204, r.text

        for params in ({"lat": ORIGIN[0], "lon": ORIGIN[1]}, {}):
            body = await get_ok(api.client, "/v1/attorneys", **params)
            assert ids(body["items"]) == [keep["id"]]

    async def test_pagination_with_ties_and_no_phi(self, api: Api, law_firm: Org) -> None:
        origin = (41.8781, -87.6298)
        spot = await place(api, law_firm, *offset(origin, 10, 1_500.0))
        other = await place(api, law_firm, *offset(origin, 190, 900.0))
        truth = {}
        for loc, meters, count in ((spot, 1_500.0, 7), (other, 900.0, 4)):
            for _ in range(count):
                att = await api.attorney(law_firm, [loc["id"]])
                truth[att["id"]] = meters

        items = await search_all(api.client, "/v1/attorneys", lat=origin[0], lon=origin[1],
                                 limit=3)

        assert ids(items) == expected_order(truth.items())
        for item in items:
            assert not (all_keys(item) & PHI_KEYS)

    @pytest.mark.parametrize("name", ["specialties", "radious", "insurance"])
    async def test_unknown_query_parameter_is_422(self, api: Api, name: str) -> None:
        r = await api.client.get("/v1/attorneys", params={name: "x"})
        assert_problem(r, 422, f"/query/{name}")


class TestReorderSearchPoints:
    async def test_reorder_keeps_results(self, api, database_url: str) -> None:  # type: ignore[no-untyped-def]
        from referral_api.maintenance import reorder_search_points

        org = await api.org()
        for lat in (40.70, 40.75, 40.80):
            loc = await api.location(org, lat=lat, lon=-73.99)
            await api.provider(org, [loc["id"]])
        params = {"lat": 40.75, "lon": -73.99, "radius": 10}
        before = (await api.client.get("/v1/providers", params=params)).json()
        result = await reorder_search_points(database_url)
        assert result["rows"] == 6  # 3 providers x (their specialty + "any")
        after = (await api.client.get("/v1/providers", params=params)).json()
        assert after == before
