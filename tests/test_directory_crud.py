"""Provider and attorney listings: create, get, patch, delete, as a client sees them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.factories import Api, Org, next_npi, npi_with_check_digit

PROBLEM_JSON = "application/problem+json"


def assert_problem(r: httpx.Response, status: int, pointer: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert "Traceback" not in r.text
    assert "SELECT" not in r.text
    if pointer is not None:
        assert pointer in [e["pointer"] for e in body.get("errors", [])], body


def bad_check_digit(npi: str) -> str:
    return npi[:9] + str((int(npi[9]) + 1) % 10)


@pytest.fixture
async def practice(api: Api) -> Org:
    return await api.org("practice")


@pytest.fixture
async def other_practice(api: Api) -> Org:
    return await api.org("practice")


@pytest.fixture
async def law_firm(api: Api) -> Org:
    return await api.org("law_firm")


@pytest.fixture
async def location(api: Api, practice: Org) -> dict[str, Any]:
    return await api.location(practice, lat=40.7484, lon=-73.9967)


def provider_body(location_ids: list[str], **overrides: Any) -> dict[str, Any]:
    return {
        "npi": next_npi(),
        "first_name": "Maria",
        "last_name": "Lopez",
        "credentials": ["DC"],
        "specialties": [{"code": "111N00000X", "primary": True},
                        {"code": "physical_therapist", "primary": False}],
        "location_ids": location_ids,
        "conditions_treated": ["Whiplash"],
        "services": ["Spinal manipulation"],
        "insurance_accepted": ["aetna", "auto_pip"],
        "languages": ["English", "Spanish"],
        "accepting_referrals": True,
        "accepting_new_patients": False,
        "accepts_lop": True,
        "telehealth": True,
        **overrides,
    }


class TestCreateProvider:
    async def test_created_with_every_field(self, api: Api, practice: Org,
                                            location: dict[str, Any]) -> None:
        body = provider_body([location["id"]])
        r = await api.client.post("/v1/providers", json=body, headers=practice.headers)

        assert r.status_code == 201, r.text
        prov = r.json()
        assert r.headers["Location"].endswith(f"/v1/providers/{prov['id']}")
        assert r.headers["ETag"]
        uuid.UUID(prov["id"])
        assert prov["organization_id"] == practice.id
        for field in ("npi", "first_name", "last_name", "credentials", "conditions_treated",
                      "services", "insurance_accepted", "languages", "accepting_referrals",
                      "accepting_new_patients", "accepts_lop", "telehealth"):
            assert prov[field] == body[field], field
        assert [(s["code"], s["slug"], s["primary"]) for s in prov["specialties"]] == [
            ("111N00000X", "chiropractor", True), ("225100000X", "physical_therapist", False)]
        assert all(s["display"] for s in prov["specialties"])
        assert prov["location_ids"] == [location["id"]]
        assert [loc["id"] for loc in prov["locations"]] == [location["id"]]
        assert prov["version"] == 1
        assert prov["active"] is True
        assert prov["profile_status"] == "listed"

    async def test_npi_with_wrong_check_digit_is_422(
        self, api: Api, practice: Org, location: dict[str, Any]
    ) -> None:
        good = npi_with_check_digit("123456789")
        for npi in (bad_check_digit(good), "123456789", "12345678901", "abcdefghij"):
            r = await api.client.post("/v1/providers", json=provider_body(
                [location["id"]], npi=npi), headers=practice.headers)
            assert_problem(r, 422, "/body/npi")

    async def test_duplicate_npi_is_409(self, api: Api, practice: Org,
                                        other_practice: Org, location: dict[str, Any]) -> None:
        npi = next_npi()
        await api.provider(practice, [location["id"]], npi=npi)
        r = await api.client.post("/v1/providers", json=provider_body([location["id"]], npi=npi),
                                  headers=practice.headers)
        assert_problem(r, 409)
        other_loc = await api.location(other_practice, lat=40.0, lon=-75.0)
        r = await api.client.post("/v1/providers", json=provider_body([other_loc["id"]], npi=npi),
                                  headers=other_practice.headers)
        assert_problem(r, 409)

    @pytest.mark.parametrize(
        ("overrides", "pointer_prefix"),
        [
            ({"specialties": [{"code": "999999999X", "primary": True}]}, "/body/specialties"),
            ({"specialties": []}, "/body/specialties"),
            ({"insurance_accepted": ["geico"]}, "/body/insurance_accepted"),
            ({"location_ids": []}, "/body/location_ids"),
            ({"location_ids": [str(uuid.uuid4())]}, "/body/location_ids"),
            ({"first_name": ""}, "/body/first_name"),
            ({"accepts_lop": "yes"}, "/body/accepts_lop"),
            ({"unexpected": 1}, "/body/unexpected"),
        ],
    )
    async def test_invalid_body_is_422(self, api: Api, practice: Org,
                                       location: dict[str, Any], overrides: dict[str, Any],
                                       pointer_prefix: str) -> None:
        body = {**provider_body([location["id"]]), **overrides}
        r = await api.client.post("/v1/providers", json=body, headers=practice.headers)
        assert_problem(r, 422)
        pointers = [e["pointer"] for e in r.json().get("errors", [])]
        assert any(p.startswith(pointer_prefix) for p in pointers), pointers

    async def test_another_organizations_location_is_422(
        self, api: Api, practice: Org, other_practice: Org
    ) -> None:
        theirs = await api.location(other_practice, lat=40.0, lon=-75.0)
        r = await api.client.post("/v1/providers", json=provider_body([theirs["id"]]),
                                  headers=practice.headers)
        assert_problem(r, 422, "/body/location_ids")

    async def test_without_token_is_401(self, api: Api, location: dict[str, Any]) -> None:
        r = await api.client.post("/v1/providers", json=provider_body([location["id"]]))
        assert_problem(r, 401)
        r = await api.client.post("/v1/providers", json=provider_body([location["id"]]),
                                  headers={"Authorization": "Bearer rk_not_a_key"})
        assert_problem(r, 401)

    async def test_law_firm_or_read_only_key_cannot_list_providers(
        self, api: Api, law_firm: Org
    ) -> None:
        firm_loc = await api.location(law_firm, lat=40.0, lon=-75.0)
        r = await api.client.post("/v1/providers", json=provider_body([firm_loc["id"]]),
                                  headers=law_firm.headers)
        assert_problem(r, 403)

        reader = await api.org("practice", scopes=["directory:read"])
        loc = await api.location(await api.org("practice"), lat=40.0, lon=-75.0)
        r = await api.client.post("/v1/providers", json=provider_body([loc["id"]]),
                                  headers=reader.headers)
        assert r.status_code in (403, 422), r.text

    async def test_idempotency_key_replays_the_first_response(
        self, api: Api, practice: Org, location: dict[str, Any]
    ) -> None:
        body = provider_body([location["id"]])
        headers = {**practice.headers, "Idempotency-Key": "create-maria-1"}
        first = await api.client.post("/v1/providers", json=body, headers=headers)
        again = await api.client.post("/v1/providers", json=body, headers=headers)

        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        found = await api.client.get("/v1/providers", params={"q": "maria lopez"})
        assert [i["id"] for i in found.json()["items"]] == [first.json()["id"]]

        r = await api.client.post("/v1/providers", json={**body, "first_name": "Marta"},
                                  headers=headers)
        assert_problem(r, 422)


class TestGetProvider:
    async def test_public_with_etag(self, api: Api, practice: Org,
                                    location: dict[str, Any]) -> None:
        prov = await api.provider(practice, [location["id"]])
        r = await api.client.get(f"/v1/providers/{prov['id']}")
        assert r.status_code == 200, r.text
        assert r.headers["ETag"]
        got = r.json()
        assert got["id"] == prov["id"]
        assert got["npi"] == prov["npi"]
        assert got["version"] == prov["version"]

    async def test_unknown_id_is_404_and_malformed_id_is_422(self, api: Api) -> None:
        assert_problem(await api.client.get(f"/v1/providers/{uuid.uuid4()}"), 404)
        assert_problem(await api.client.get("/v1/providers/not-a-uuid"), 422)


class TestUpdateProvider:
    async def test_patch_changes_only_given_fields_and_bumps_version(
        self, api: Api, practice: Org, location: dict[str, Any]
    ) -> None:
        prov = await api.provider(practice, [location["id"]], languages=["English"])
        r = await api.client.patch(
            f"/v1/providers/{prov['id']}",
            json={"accepting_new_patients": False, "languages": ["English", "Polish"]},
            headers=practice.headers,
        )
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["accepting_new_patients"] is False
        assert got["languages"] == ["English", "Polish"]
        assert got["first_name"] == prov["first_name"]
        assert got["npi"] == prov["npi"]
        assert got["version"] == prov["version"] + 1
        assert r.headers["ETag"]

        again = await api.client.get(f"/v1/providers/{prov['id']}")
        assert again.json()["languages"] == ["English", "Polish"]
        assert again.headers["ETag"] == r.headers["ETag"]

    async def test_stale_if_match_is_412_and_current_one_is_accepted(
        self, api: Api, practice: Org, location: dict[str, Any]
    ) -> None:
        prov = await api.provider(practice, [location["id"]])
        etag = (await api.client.get(f"/v1/providers/{prov['id']}")).headers["ETag"]
        r = await api.client.patch(f"/v1/providers/{prov['id']}", json={"telehealth": True},
                                   headers={**practice.headers, "If-Match": etag})
        assert r.status_code == 200, r.text

        r = await api.client.patch(f"/v1/providers/{prov['id']}", json={"telehealth": False},
                                   headers={**practice.headers, "If-Match": etag})
        assert_problem(r, 412)
        assert (await api.client.get(f"/v1/providers/{prov['id']}")).json()["telehealth"] is True

    async def test_another_organizations_provider_is_404(
        self, api: Api, practice: Org, other_practice: Org, location: dict[str, Any]
    ) -> None:
        prov = await api.provider(practice, [location["id"]])
        r = await api.client.patch(f"/v1/providers/{prov['id']}", json={"telehealth": True},
                                   headers=other_practice.headers)
        missing = await api.client.patch(f"/v1/providers/{uuid.uuid4()}",
                                         json={"telehealth": True},
                                         headers=other_practice.headers)
        assert_problem(r, 404)
        assert_problem(missing, 404)
        assert r.json()["detail"] == missing.json()["detail"]

    async def test_without_token_is_401(self, api: Api, practice: Org,
                                        location: dict[str, Any]) -> None:
        prov = await api.provider(practice, [location["id"]])
        r = await api.client.patch(f"/v1/providers/{prov['id']}", json={"telehealth": True})
        assert_problem(r, 401)

    async def test_invalid_values_are_422_and_taken_npi_is_409(
        self, api: Api, practice: Org, location: dict[str, Any]
    ) -> None:
        a = await api.provider(practice, [location["id"]])
        b = await api.provider(practice, [location["id"]])
        url = f"/v1/providers/{b['id']}"
        assert_problem(await api.client.patch(url, json={"npi": bad_check_digit(a["npi"])},
                                              headers=practice.headers), 422, "/body/npi")
        assert_problem(await api.client.patch(url, json={"first_name": None},
                                              headers=practice.headers), 422)
        assert_problem(await api.client.patch(url, json={"insurance_accepted": ["geico"]},
                                              headers=practice.headers), 422)
        assert_problem(await api.client.patch(url, json={"npi": a["npi"]},
                                              headers=practice.headers), 409)
        got = (await api.client.get(url)).json()
        assert got["npi"] == b["npi"]
        assert got["version"] == b["version"]


class TestDeleteProvider:
    async def test_delete_deactivates(self, api: Api, practice: Org,
                                      location: dict[str, Any]) -> None:
        prov = await api.provider(practice, [location["id"]])
        r = await api.client.delete(f"/v1/providers/{prov['id']}", headers=practice.headers)
        assert r.status_code == 204, r.text

        assert (await api.client.get(f"/v1/providers/{prov['id']}")).status_code in (404, 410)
        again = await api.client.delete(f"/v1/providers/{prov['id']}", headers=practice.headers)
        assert again.status_code in (404, 410)
        search = await api.client.get("/v1/providers")
        assert search.json()["items"] == []

    async def test_another_organizations_provider_is_404(
        self, api: Api, practice: Org, other_practice: Org, location: dict[str, Any]
    ) -> None:
        prov = await api.provider(practice, [location["id"]])
        r = await api.client.delete(f"/v1/providers/{prov['id']}",
                                    headers=other_practice.headers)
        assert_problem(r, 404)
        assert (await api.client.get(f"/v1/providers/{prov['id']}")).status_code == 200

    async def test_without_token_is_401(self, api: Api, practice: Org,
                                        location: dict[str, Any]) -> None:
        prov = await api.provider(practice, [location["id"]])
        assert_problem(await api.client.delete(f"/v1/providers/{prov['id']}"), 401)


class TestAttorneys:
    async def test_create_get_patch_delete(self, api: Api, law_firm: Org) -> None:
        loc = await api.location(law_firm, lat=39.0997, lon=-94.5786)
        body = {"first_name": "Sam", "last_name": "Counsel", "bar_number": "MO12345",
                "bar_state": "mo", "practice_areas": ["personal_injury", "workers_comp"],
                "location_ids": [loc["id"]], "languages": ["English"],
                "accepting_clients": True, "accepts_lop_cases": False}
        r = await api.client.post("/v1/attorneys", json=body, headers=law_firm.headers)
        assert r.status_code == 201, r.text
        att = r.json()
        assert att["bar_state"] == "MO"
        assert att["practice_areas"] == ["personal_injury", "workers_comp"]
        assert att["accepts_lop_cases"] is False
        assert att["version"] == 1

        got = await api.client.get(f"/v1/attorneys/{att['id']}")
        assert got.status_code == 200
        assert got.json()["id"] == att["id"]

        r = await api.client.patch(f"/v1/attorneys/{att['id']}",
                                   json={"accepting_clients": False},
                                   headers={**law_firm.headers, "If-Match": got.headers["ETag"]})
        assert r.status_code == 200, r.text
        assert r.json()["accepting_clients"] is False
        assert r.json()["version"] == 2
        stale = await api.client.patch(f"/v1/attorneys/{att['id']}",
                                       json={"accepting_clients": True},
                                       headers={**law_firm.headers,
                                                "If-Match": got.headers["ETag"]})
        assert_problem(stale, 412)

        r = await api.client.delete(f"/v1/attorneys/{att['id']}", headers=law_firm.headers)
        assert r.status_code == 204
        assert (await api.client.get(f"/v1/attorneys/{att['id']}")).status_code in (404, 410)

    async def test_duplicate_bar_number_is_409(self, api: Api, law_firm: Org) -> None:
        loc = await api.location(law_firm, lat=39.0997, lon=-94.5786)
        await api.attorney(law_firm, [loc["id"]], bar_number="KS777", bar_state="KS")
        r = await api.client.post("/v1/attorneys", json={
            "first_name": "A", "last_name": "B", "bar_number": "KS777", "bar_state": "KS",
            "practice_areas": ["personal_injury"], "location_ids": [loc["id"]]},
            headers=law_firm.headers)
        assert_problem(r, 409)

    async def test_invalid_practice_area_is_422(self, api: Api, law_firm: Org) -> None:
        loc = await api.location(law_firm, lat=39.0997, lon=-94.5786)
        r = await api.client.post("/v1/attorneys", json={
            "first_name": "A", "last_name": "B", "bar_number": "KS1", "bar_state": "KS",
            "practice_areas": ["divorce"], "location_ids": [loc["id"]]},
            headers=law_firm.headers)
        assert_problem(r, 422)
        assert any(e["pointer"].startswith("/body/practice_areas")
                   for e in r.json()["errors"])

    async def test_practice_cannot_list_attorneys(self, api: Api, practice: Org,
                                                  location: dict[str, Any]) -> None:
        r = await api.client.post("/v1/attorneys", json={
            "first_name": "A", "last_name": "B", "bar_number": "NY1", "bar_state": "NY",
            "practice_areas": ["personal_injury"], "location_ids": [location["id"]]},
            headers=practice.headers)
        assert_problem(r, 403)

    async def test_another_firms_attorney_is_404(self, api: Api, law_firm: Org) -> None:
        loc = await api.location(law_firm, lat=39.0997, lon=-94.5786)
        att = await api.attorney(law_firm, [loc["id"]])
        other = await api.org("law_firm")
        assert_problem(await api.client.patch(f"/v1/attorneys/{att['id']}",
                                              json={"accepting_clients": False},
                                              headers=other.headers), 404)
        assert_problem(await api.client.delete(f"/v1/attorneys/{att['id']}",
                                               headers=other.headers), 404)
