from referral_api.schemas_common import npi_check_digit_ok
from tests.factories import npi_with_check_digit


def test_npi_factory_matches_validator() -> None:
    assert npi_with_check_digit("123456789") == "1234567893"  # the CMS example
    assert npi_check_digit_ok("1234567893")
    assert not npi_check_digit_ok("1234567890")


async def test_create_provider_and_find_it(api) -> None:
    org = await api.org()
    loc = await api.location(org, lat=40.75, lon=-73.99)
    prov = await api.provider(org, [loc["id"]])
    r = await api.client.get("/v1/providers", params={"lat": 40.75, "lon": -73.99})
    assert r.status_code == 200
    assert [i["id"] for i in r.json()["items"]] == [prov["id"]]
