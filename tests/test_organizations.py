"""Organizations, locations and API keys: who may do what, and what they see."""

from __future__ import annotations

import uuid

import zipcodes

from tests.factories import Api, bearer


class TestCreateOrganization:
    async def test_platform_admin_creates_and_reads(self, api: Api) -> None:
        r = await api.client.post(
            "/v1/organizations",
            json={"name": "Spine & Sport", "kind": "practice",
                  "lop_policy": {"accepts_lop": True, "max_outstanding_cents": 500000}},
            headers=api.platform,
        )
        assert r.status_code == 201
        body = r.json()
        assert body["kind"] == "practice"
        assert body["lop_policy"] == {"accepts_lop": True, "max_outstanding_cents": 500000,
                                      "policy_text": None}
        assert r.headers["etag"] == '"v1"'
        assert r.headers["location"] == f"/v1/organizations/{body['id']}"
        got = await api.client.get(f"/v1/organizations/{body['id']}", headers=api.platform)
        assert got.json() == body

    async def test_org_key_cannot_create_organizations(self, api: Api) -> None:
        org = await api.org()
        r = await api.client.post("/v1/organizations", json={"name": "x", "kind": "practice"},
                                  headers=org.headers)
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"

    async def test_missing_or_bad_token_is_401(self, api: Api) -> None:
        body = {"name": "x", "kind": "practice"}
        for headers in ({}, bearer("rk_nope"), {"Authorization": "Basic Zm9vOmJhcg=="},
                        bearer("not-a-key")):
            r = await api.client.post("/v1/organizations", json=body, headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["status"] == 401

    async def test_invalid_kind_is_422_with_pointer(self, api: Api) -> None:
        r = await api.client.post("/v1/organizations", json={"name": "x", "kind": "bank"},
                                  headers=api.platform)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["pointer"] == "/body/kind"

    async def test_unknown_body_field_is_422(self, api: Api) -> None:
        r = await api.client.post("/v1/organizations",
                                  json={"name": "x", "kind": "practice", "nmae": "typo"},
                                  headers=api.platform)
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"] == "/body/nmae"


class TestOrganizationVisibility:
    async def test_other_org_is_404_like_missing(self, api: Api) -> None:
        a, b = await api.org(), await api.org()
        other = await api.client.get(f"/v1/organizations/{b.id}", headers=a.headers)
        missing = await api.client.get(f"/v1/organizations/{uuid.uuid4()}", headers=a.headers)
        assert other.status_code == missing.status_code == 404
        assert other.json() == missing.json()
        patch = await api.client.patch(f"/v1/organizations/{b.id}", json={"name": "mine"},
                                       headers=a.headers)
        assert patch.status_code == 404
        assert patch.json() == missing.json()

    async def test_list_shows_only_own_org(self, api: Api) -> None:
        a, _b = await api.org(), await api.org()
        r = await api.client.get("/v1/organizations", headers=a.headers)
        assert [o["id"] for o in r.json()["items"]] == [a.id]
        r = await api.client.get("/v1/organizations", headers=api.platform)
        assert len(r.json()["items"]) == 2


class TestUpdateOrganization:
    async def test_if_match_guards_lost_updates(self, api: Api) -> None:
        org = await api.org()
        url = f"/v1/organizations/{org.id}"
        first = await api.client.patch(url, json={"name": "Renamed"},
                                       headers={**org.headers, "If-Match": '"v1"'})
        assert first.status_code == 200
        assert first.headers["etag"] == '"v2"'
        assert first.json()["version"] == 2
        stale = await api.client.patch(url, json={"name": "Again"},
                                       headers={**org.headers, "If-Match": '"v1"'})
        assert stale.status_code == 412
        assert (await api.client.get(url, headers=org.headers)).json()["name"] == "Renamed"

    async def test_lop_policy_set_by_admin_only(self, api: Api) -> None:
        org = await api.org(scopes=["directory:write"])
        r = await api.client.patch(f"/v1/organizations/{org.id}",
                                   json={"lop_policy": {"accepts_lop": True}},
                                   headers=org.headers)
        assert r.status_code == 403
        admin = await api.org(scopes=["org:admin"])
        r = await api.client.patch(
            f"/v1/organizations/{admin.id}",
            json={"lop_policy": {"accepts_lop": True, "max_outstanding_cents": 100,
                                 "policy_text": "Cases with liability accepted only."}},
            headers=admin.headers,
        )
        assert r.status_code == 200
        assert r.json()["lop_policy"]["max_outstanding_cents"] == 100

    async def test_money_must_be_integer_cents(self, api: Api) -> None:
        org = await api.org()
        for bad in (1000.0, "1000", -1, True):
            r = await api.client.patch(
                f"/v1/organizations/{org.id}",
                json={"lop_policy": {"accepts_lop": True, "max_outstanding_cents": bad}},
                headers=org.headers,
            )
            assert r.status_code == 422, bad


class TestLocations:
    async def test_zip_centroid_when_no_point(self, api: Api) -> None:
        org = await api.org()
        loc = await api.location(org, postal_code="60601")
        expected = zipcodes.matching("60601")[0]
        assert loc["geocode_precision"] == "postal_code"
        assert loc["lat"] == float(expected["lat"])
        assert loc["lon"] == float(expected["long"])

    async def test_explicit_point_is_exact(self, api: Api) -> None:
        org = await api.org()
        loc = await api.location(org, lat=41.88, lon=-87.63, postal_code="60601")
        assert (loc["lat"], loc["lon"], loc["geocode_precision"]) == (41.88, -87.63, "exact")

    async def test_bad_locations_are_422(self, api: Api) -> None:
        org = await api.org()
        base = {"name": "x", "address": {"line1": "1 A St", "city": "X", "state": "NY",
                                         "postal_code": "10001"}}
        bad_bodies = [
            {**base, "lat": 40.0},  # lat without lon
            {**base, "lat": 91, "lon": 0},
            {**base, "address": {**base["address"], "postal_code": "00000"}},  # unknown ZIP
            {**base, "address": {**base["address"], "postal_code": "1234"}},
        ]
        for body in bad_bodies:
            r = await api.client.post(f"/v1/organizations/{org.id}/locations", json=body,
                                      headers=org.headers)
            assert r.status_code == 422, body

    async def test_other_orgs_locations_are_hidden(self, api: Api) -> None:
        a, b = await api.org(), await api.org()
        loc = await api.location(b)
        r = await api.client.get(f"/v1/organizations/{b.id}/locations/{loc['id']}",
                                 headers=a.headers)
        assert r.status_code == 404
        r = await api.client.post(
            f"/v1/organizations/{b.id}/locations",
            json={"name": "x", "address": {"line1": "1 A St", "city": "X", "state": "NY",
                                           "postal_code": "10001"}},
            headers=a.headers,
        )
        assert r.status_code == 404

    async def test_provider_cannot_use_another_orgs_location(self, api: Api) -> None:
        a, b = await api.org(), await api.org()
        loc = await api.location(b)
        r = await api.client.post(
            "/v1/providers",
            json={"npi": "1234567893", "first_name": "A", "last_name": "B",
                  "specialties": [{"code": "111N00000X"}], "location_ids": [loc["id"]]},
            headers=a.headers,
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"] == "/body/location_ids"


class TestApiKeys:
    async def test_key_shown_once_stored_hashed_and_revocable(self, api: Api, engine) -> None:  # type: ignore[no-untyped-def]
        from sqlalchemy import text

        org = await api.org()
        r = await api.client.post(f"/v1/organizations/{org.id}/api-keys",
                                  json={"name": "ehr", "scopes": ["directory:write"]},
                                  headers=org.headers)
        assert r.status_code == 201
        created = r.json()
        secret = created["api_key"]
        assert secret.startswith("rk_")
        assert r.headers["cache-control"] == "no-store"
        listed = await api.client.get(f"/v1/organizations/{org.id}/api-keys",
                                      headers=org.headers)
        assert all("api_key" not in k for k in listed.json()["items"])
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT key_hash FROM api_keys"))).scalars().all()
        assert secret not in stored
        assert all(len(h) == 64 for h in stored)
        # The new key works, then stops working once revoked.
        ok = await api.client.get(f"/v1/organizations/{org.id}", headers=bearer(secret))
        assert ok.status_code == 200
        rv = await api.client.delete(f"/v1/api-keys/{created['id']}", headers=org.headers)
        assert rv.status_code == 204
        gone = await api.client.get(f"/v1/organizations/{org.id}", headers=bearer(secret))
        assert gone.status_code == 401

    async def test_scopes_are_checked_on_writes(self, api: Api) -> None:
        reader = await api.org(scopes=["directory:read"])
        loc_body = {"name": "x", "address": {"line1": "1 A St", "city": "X", "state": "NY",
                                             "postal_code": "10001"}}
        r = await api.client.post(f"/v1/organizations/{reader.id}/locations", json=loc_body,
                                  headers=reader.headers)
        assert r.status_code == 403
        r = await api.client.post(f"/v1/organizations/{reader.id}/api-keys",
                                  json={"name": "x", "scopes": ["org:admin"]},
                                  headers=reader.headers)
        assert r.status_code == 403

    async def test_platform_scope_cannot_be_granted(self, api: Api) -> None:
        org = await api.org()
        r = await api.client.post(f"/v1/organizations/{org.id}/api-keys",
                                  json={"name": "x", "scopes": ["platform:admin"]},
                                  headers=org.headers)
        assert r.status_code == 422

    async def test_cannot_revoke_another_orgs_key(self, api: Api) -> None:
        a, b = await api.org(), await api.org()
        keys = await api.client.get(f"/v1/organizations/{b.id}/api-keys", headers=b.headers)
        key_id = keys.json()["items"][0]["id"]
        r = await api.client.delete(f"/v1/api-keys/{key_id}", headers=a.headers)
        assert r.status_code == 404
        assert (await api.client.get(f"/v1/organizations/{b.id}",
                                     headers=b.headers)).status_code == 200
