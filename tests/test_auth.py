"""Members, password login, user sessions (rotation, reuse detection, logout), login
throttling, /v1/me and what each role may do.

Every member costs an argon2id hash and every login a verification (~50-100 ms each), so
tests create the few members they need and no more.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from referral_api.auth.principals import ORG_SCOPES
from referral_api.auth.roles import ROLE_SCOPES
from referral_api.auth.tokens import ACCESS_TTL
from referral_api.config import Settings
from referral_api.main import create_app
from tests.factories import Api, Org, bearer, network

PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "another long passphrase"
PROBLEM_JSON = "application/problem+json"
README = Path(__file__).resolve().parents[1] / "README.md"

_emails = iter(range(10**6))


def new_email(prefix: str = "member") -> str:
    return f"{prefix}{next(_emails)}.{uuid.uuid4().hex[:6]}@example.org"


async def add_member(api: Api, org: Org, *, role: str = "clinician", email: str | None = None,
                     password: str = PASSWORD, name: str = "Dana Reyes") -> dict[str, Any]:
    r = await api.client.post(
        f"/v1/organizations/{org.id}/members",
        json={"email": email or new_email(role), "name": name, "role": role,
              "password": password},
        headers=org.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD
                ) -> httpx.Response:
    return await client.post("/v1/auth/token", data={
        "grant_type": "password", "username": username, "password": password,
    })


async def tokens_for(client: httpx.AsyncClient, username: str, password: str = PASSWORD
                     ) -> dict[str, Any]:
    r = await login(client, username, password)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def refresh_form(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
    })


async def refresh_json(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/me", headers=bearer(token))


async def throttle_row(engine: AsyncEngine, username: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(
            text("SELECT failures, window_started_at, locked_until FROM login_throttle "
                 "WHERE username = :u"), {"u": username},
        )).first()


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    body = dict(r.json())
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


# -- members -----------------------------------------------------------------------------


class TestMembers:
    async def test_org_admin_key_creates_a_member(self, api: Api) -> None:
        org = await api.org()
        r = await api.client.post(
            f"/v1/organizations/{org.id}/members",
            json={"email": "Dana.Reyes@Example.org", "name": "Dana Reyes", "role": "clinician",
                  "password": PASSWORD},
            headers=org.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["organization_id"] == org.id
        # the local part is kept as given (pydantic normalizes the domain's case)
        assert body["email"].lower() == "dana.reyes@example.org"
        assert body["email"].startswith("Dana.Reyes@")
        assert body["name"] == "Dana Reyes"
        assert body["role"] == "clinician"
        assert body["active"] is True
        assert body["version"] == 1
        assert r.headers["etag"] == '"v1"'
        assert r.headers["location"] == f"/v1/organizations/{org.id}/members/{body['id']}"
        assert not {"password", "password_hash"} & body.keys()
        assert PASSWORD not in r.text

        listed = await api.client.get(f"/v1/organizations/{org.id}/members",
                                      headers=org.headers)
        assert listed.status_code == 200
        assert listed.json() == {"items": [body], "next_cursor": None}

    async def test_platform_operator_may_add_members(self, api: Api) -> None:
        org = await api.org()
        r = await api.client.post(
            f"/v1/organizations/{org.id}/members",
            json={"email": new_email(), "name": "First Admin", "role": "admin",
                  "password": PASSWORD},
            headers=api.platform,
        )
        assert r.status_code == 201, r.text
        assert r.json()["organization_id"] == org.id

    async def test_password_is_stored_as_argon2id_never_in_clear(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        async with engine.connect() as conn:
            stored = (await conn.execute(
                text("SELECT password_hash FROM users WHERE id = :id"), {"id": member["id"]},
            )).scalar_one()
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored
        params = dict(p.split("=") for p in stored.split("$")[3].split(","))
        assert int(params["m"]) >= 19456  # KiB; OWASP's floor for argon2id
        assert int(params["t"]) >= 2

    async def test_duplicate_email_is_409_case_insensitively(self, api: Api) -> None:
        org, other = await api.org(), await api.org()
        email = new_email()
        await add_member(api, org, email=email)
        for target, address in ((org, email.upper()), (other, email)):
            r = await api.client.post(
                f"/v1/organizations/{target.id}/members",
                json={"email": address, "name": "Twin", "role": "viewer",
                      "password": PASSWORD},
                headers=target.headers,
            )
            assert_problem(r, 409)
        listed = await api.client.get(f"/v1/organizations/{org.id}/members",
                                      headers=org.headers)
        assert len(listed.json()["items"]) == 1

    async def test_bad_role_is_422_with_pointer(self, api: Api) -> None:
        org = await api.org()
        r = await api.client.post(
            f"/v1/organizations/{org.id}/members",
            json={"email": new_email(), "name": "X", "role": "owner", "password": PASSWORD},
            headers=org.headers,
        )
        body = assert_problem(r, 422)
        assert [e["pointer"] for e in body["errors"]] == ["/body/role"]

    async def test_short_password_and_bad_email_are_422(self, api: Api) -> None:
        org = await api.org()
        cases = {
            "/body/password": {"email": new_email(), "password": "elevenchars"},
            "/body/email": {"email": "not-an-email", "password": PASSWORD},
        }
        for pointer, fields in cases.items():
            r = await api.client.post(
                f"/v1/organizations/{org.id}/members",
                json={"name": "X", "role": "viewer", **fields}, headers=org.headers,
            )
            body = assert_problem(r, 422)
            assert [e["pointer"] for e in body["errors"]] == [pointer]
            assert fields["password"] not in r.text

    async def test_key_without_org_admin_is_403(self, api: Api) -> None:
        org = await api.org(scopes=["directory:read", "directory:write", "referrals:write"])
        r = await api.client.post(
            f"/v1/organizations/{org.id}/members",
            json={"email": new_email(), "name": "X", "role": "viewer", "password": PASSWORD},
            headers=org.headers,
        )
        assert_problem(r, 403)
        r = await api.client.get(f"/v1/organizations/{org.id}/members", headers=org.headers)
        assert_problem(r, 403)

    async def test_another_organization_is_404_like_a_missing_id(self, api: Api) -> None:
        mine, theirs = await api.org(), await api.org()
        body = {"email": new_email(), "name": "X", "role": "viewer", "password": PASSWORD}
        other = await api.client.post(f"/v1/organizations/{theirs.id}/members", json=body,
                                      headers=mine.headers)
        missing = await api.client.post(f"/v1/organizations/{uuid.uuid4()}/members",
                                        json=body, headers=mine.headers)
        assert assert_problem(other, 404) == assert_problem(missing, 404)
        r = await api.client.get(f"/v1/organizations/{theirs.id}/members",
                                 headers=mine.headers)
        assert_problem(r, 404)

    async def test_patch_of_another_organizations_member_is_404(self, api: Api) -> None:
        mine, theirs = await api.org(), await api.org()
        member = await add_member(api, theirs, role="viewer")
        # their member addressed under my organization, and under theirs with my key
        for org_id in (mine.id, theirs.id):
            r = await api.client.patch(
                f"/v1/organizations/{org_id}/members/{member['id']}",
                json={"role": "admin"}, headers=mine.headers,
            )
            assert_problem(r, 404)
        listed = await api.client.get(f"/v1/organizations/{theirs.id}/members",
                                      headers=theirs.headers)
        assert listed.json()["items"][0]["role"] == "viewer"

    async def test_a_member_token_with_admin_role_manages_members(self, api: Api) -> None:
        org = await api.org()
        admin = await add_member(api, org, role="admin")
        clinician = await add_member(api, org, role="clinician")
        admin_token = (await tokens_for(api.client, admin["email"]))["access_token"]
        clin_token = (await tokens_for(api.client, clinician["email"]))["access_token"]

        r = await api.client.patch(
            f"/v1/organizations/{org.id}/members/{clinician['id']}",
            json={"name": "Dr. Dana Reyes"}, headers=bearer(admin_token),
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Dr. Dana Reyes"

        r = await api.client.get(f"/v1/organizations/{org.id}/members",
                                 headers=bearer(clin_token))
        assert_problem(r, 403)

    async def test_patch_with_stale_if_match_is_412(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org, role="viewer")
        url = f"/v1/organizations/{org.id}/members/{member['id']}"
        r = await api.client.patch(url, json={"name": "Renamed"},
                                   headers={**org.headers, "If-Match": '"v1"'})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2
        assert r.headers["etag"] == '"v2"'
        r = await api.client.patch(url, json={"role": "admin"},
                                   headers={**org.headers, "If-Match": '"v1"'})
        assert_problem(r, 412)

    async def test_deactivating_a_member_ends_sessions_and_blocks_login(
        self, api: Api
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        pair = await tokens_for(api.client, member["email"])
        url = f"/v1/organizations/{org.id}/members/{member['id']}"

        r = await api.client.patch(url, json={"active": False}, headers=org.headers)
        assert r.status_code == 200, r.text
        assert r.json()["active"] is False

        assert_problem(await me(api.client, pair["access_token"]), 401)
        assert_problem(await refresh_json(api.client, pair["refresh_token"]), 401)
        wrong = await login(api.client, member["email"], "not the password at all")
        blocked = await login(api.client, member["email"])
        assert assert_problem(blocked, 401) == assert_problem(wrong, 401)

        r = await api.client.patch(url, json={"active": True}, headers=org.headers)
        assert r.status_code == 200, r.text
        again = await tokens_for(api.client, member["email"])
        assert (await me(api.client, again["access_token"])).status_code == 200
        # reactivation does not bring the old session back
        assert_problem(await me(api.client, pair["access_token"]), 401)

    async def test_new_password_ends_sessions_and_replaces_the_old_one(
        self, api: Api
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        pair = await tokens_for(api.client, member["email"])
        r = await api.client.patch(
            f"/v1/organizations/{org.id}/members/{member['id']}",
            json={"password": OTHER_PASSWORD}, headers=org.headers,
        )
        assert r.status_code == 200, r.text
        assert_problem(await me(api.client, pair["access_token"]), 401)
        assert_problem(await login(api.client, member["email"], PASSWORD), 401)
        await tokens_for(api.client, member["email"], OTHER_PASSWORD)

    async def test_null_fields_in_patch_are_422(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org, role="viewer")
        r = await api.client.patch(
            f"/v1/organizations/{org.id}/members/{member['id']}",
            json={"role": None}, headers=org.headers,
        )
        body = assert_problem(r, 422)
        assert [e["pointer"] for e in body["errors"]] == ["/body/role"]


# -- token endpoint ----------------------------------------------------------------------


class TestTokenEndpoint:
    async def test_password_grant_issues_an_opaque_pair(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        r = await login(api.client, member["email"])
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert "no-store" in r.headers["cache-control"]
        body = r.json()
        assert body.keys() == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer"
        assert body["access_token"].startswith("rat_")
        assert body["refresh_token"].startswith("rrt_")
        assert body["access_token"] != body["refresh_token"]
        assert body["expires_in"] == int(ACCESS_TTL.total_seconds())
        assert body["expires_in"] > 0

        # only hashes are stored
        async with engine.connect() as conn:
            stored = {r[0]: r[1] for r in await conn.execute(
                text("SELECT kind, token_hash FROM auth_tokens WHERE user_id = :u"),
                {"u": member["id"]},
            )}
        assert stored == {
            "access": hashlib.sha256(body["access_token"].encode()).hexdigest(),
            "refresh": hashlib.sha256(body["refresh_token"].encode()).hexdigest(),
        }

    async def test_username_is_case_insensitive(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org, email=new_email("Mixed.Case"))
        r = await login(api.client, f"  {member['email'].upper()} ")
        assert r.status_code == 200, r.text

    async def test_wrong_password_and_unknown_user_get_the_same_401(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org)
        wrong = await login(api.client, member["email"], "wrong password here")
        unknown = await login(api.client, "nobody@example.org", PASSWORD)
        body = assert_problem(wrong, 401)
        assert assert_problem(unknown, 401) == body
        assert "access_token" not in body
        assert member["email"] not in wrong.text
        assert "wrong password here" not in wrong.text

    async def test_each_login_is_a_separate_session(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org)
        first = await tokens_for(api.client, member["email"])
        second = await tokens_for(api.client, member["email"])
        assert first["access_token"] != second["access_token"]
        r = await api.client.post("/v1/auth/logout", headers=bearer(first["access_token"]))
        assert r.status_code == 204
        assert (await me(api.client, second["access_token"])).status_code == 200

    async def test_missing_fields_and_unknown_grant_are_rejected(self, api: Api) -> None:
        for data in (
            {"grant_type": "password", "username": "someone@example.org"},
            {"grant_type": "password", "password": PASSWORD},
            {"grant_type": "refresh_token"},
            {"username": "someone@example.org", "password": PASSWORD},
        ):
            r = await api.client.post("/v1/auth/token", data=data)
            assert_problem(r, 422)
        r = await api.client.post("/v1/auth/token", data={
            "grant_type": "client_credentials", "username": "a@example.org",
            "password": PASSWORD,
        })
        assert r.status_code in {400, 422}, r.text
        assert r.headers["content-type"] == PROBLEM_JSON

    async def test_garbage_tokens_are_401(self, api: Api) -> None:
        for token in ("rat_" + "x" * 43, "rrt_" + "x" * 43, "rat_" + "x" * 300, "nonsense"):
            assert_problem(await me(api.client, token), 401)
        for token in ("rrt_" + "x" * 43, "rat_" + "x" * 43, "nonsense"):
            assert_problem(await refresh_form(api.client, token), 401)
            assert_problem(await refresh_json(api.client, token), 401)

    async def test_access_token_is_not_a_refresh_token(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org)
        pair = await tokens_for(api.client, member["email"])
        assert_problem(await refresh_json(api.client, pair["access_token"]), 401)
        assert_problem(await me(api.client, pair["refresh_token"]), 401)
        # neither attempt spent the session
        assert (await me(api.client, pair["access_token"])).status_code == 200
        assert (await refresh_json(api.client, pair["refresh_token"])).status_code == 200

    async def test_expired_tokens_are_401(self, api: Api, engine: AsyncEngine) -> None:
        org = await api.org()
        member = await add_member(api, org)
        pair = await tokens_for(api.client, member["email"])
        async with engine.begin() as conn:
            await conn.execute(text(
                "UPDATE auth_tokens SET expires_at = now() - interval '1 second' "
                "WHERE user_id = :u"
            ), {"u": member["id"]})
        assert_problem(await me(api.client, pair["access_token"]), 401)
        assert_problem(await refresh_json(api.client, pair["refresh_token"]), 401)


# -- refresh -----------------------------------------------------------------------------


class TestRefresh:
    async def _check_rotation(self, api: Api, refresh: Any) -> None:
        org = await api.org()
        member = await add_member(api, org)
        first = await tokens_for(api.client, member["email"])

        r = await refresh(api.client, first["refresh_token"])
        assert r.status_code == 200, r.text
        assert "no-store" in r.headers["cache-control"]
        second = r.json()
        assert second["token_type"] == "bearer"
        assert second["access_token"].startswith("rat_")
        assert second["refresh_token"].startswith("rrt_")
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        got = await me(api.client, second["access_token"])
        assert got.status_code == 200
        assert got.json()["id"] == member["id"]

        # the spent refresh token no longer works ...
        assert_problem(await refresh(api.client, first["refresh_token"]), 401)
        # ... and presenting it was treated as theft: the pair issued from it is dead too
        assert_problem(await me(api.client, second["access_token"]), 401)
        assert_problem(await refresh(api.client, second["refresh_token"]), 401)

        # other sessions of the same member are not affected
        other = await tokens_for(api.client, member["email"])
        assert (await me(api.client, other["access_token"])).status_code == 200

    async def test_rotation_and_reuse_detection_via_token_endpoint(self, api: Api) -> None:
        await self._check_rotation(api, refresh_form)

    async def test_rotation_and_reuse_detection_via_refresh_endpoint(self, api: Api) -> None:
        await self._check_rotation(api, refresh_json)

    async def test_both_endpoints_share_one_rotation(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org)
        first = await tokens_for(api.client, member["email"])
        r = await refresh_form(api.client, first["refresh_token"])
        assert r.status_code == 200, r.text
        second = r.json()
        r = await refresh_json(api.client, second["refresh_token"])
        assert r.status_code == 200, r.text
        third = r.json()
        assert (await me(api.client, third["access_token"])).status_code == 200
        # a spent token from the first rotation, replayed on the other endpoint
        assert_problem(await refresh_json(api.client, first["refresh_token"]), 401)
        assert_problem(await me(api.client, third["access_token"]), 401)
        assert_problem(await refresh_form(api.client, third["refresh_token"]), 401)

    async def test_chain_of_rotations_keeps_the_session_alive(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org)
        pair = await tokens_for(api.client, member["email"])
        for _ in range(3):
            r = await refresh_json(api.client, pair["refresh_token"])
            assert r.status_code == 200, r.text
            pair = r.json()
        assert (await me(api.client, pair["access_token"])).status_code == 200

    async def test_refresh_body_is_validated(self, api: Api) -> None:
        for body in ({}, {"refresh_token": ""}, {"refresh_token": "rrt_x", "extra": 1}):
            assert_problem(await api.client.post("/v1/auth/refresh", json=body), 422)


# -- logout ------------------------------------------------------------------------------


class TestLogout:
    async def test_logout_kills_the_access_and_refresh_token(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org)
        pair = await tokens_for(api.client, member["email"])
        r = await api.client.post("/v1/auth/logout", headers=bearer(pair["access_token"]))
        assert r.status_code == 204
        assert r.content == b""
        assert_problem(await me(api.client, pair["access_token"]), 401)
        assert_problem(await refresh_json(api.client, pair["refresh_token"]), 401)
        assert_problem(await refresh_form(api.client, pair["refresh_token"]), 401)
        # a second logout with the dead token is a 401
        r = await api.client.post("/v1/auth/logout", headers=bearer(pair["access_token"]))
        assert_problem(r, 401)

    async def test_logout_after_rotation_ends_the_rotated_session(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org)
        first = await tokens_for(api.client, member["email"])
        second = (await refresh_json(api.client, first["refresh_token"])).json()
        r = await api.client.post("/v1/auth/logout", headers=bearer(second["access_token"]))
        assert r.status_code == 204
        assert_problem(await me(api.client, second["access_token"]), 401)
        assert_problem(await refresh_json(api.client, second["refresh_token"]), 401)

    async def test_logout_needs_a_token(self, api: Api) -> None:
        assert_problem(await api.client.post("/v1/auth/logout"), 401)


# -- throttling --------------------------------------------------------------------------


class TestThrottle:
    async def _fail(self, client: httpx.AsyncClient, username: str, times: int) -> None:
        for i in range(times):
            r = await login(client, username, f"wrong password {i:04d}")
            assert_problem(r, 401)

    async def test_sixth_attempt_is_429_even_with_the_right_password(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        await self._fail(api.client, member["email"], 5)
        r = await login(api.client, member["email"])
        body = assert_problem(r, 429)
        assert "access_token" not in body
        retry_after = r.headers["retry-after"]
        assert re.fullmatch(r"[0-9]+", retry_after), retry_after
        assert 0 < int(retry_after) <= 15 * 60

        # the state is a row in PostgreSQL, not process memory
        row = await throttle_row(engine, member["email"].lower())
        assert row is not None
        assert row.failures == 5
        assert row.locked_until is not None

    async def test_concurrent_guesses_cannot_exceed_the_limit(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        # A burst of parallel attempts must not buy more than 5 password checks per window.
        org = await api.org()
        member = await add_member(api, org)
        responses = await asyncio.gather(*(
            login(api.client, member["email"], f"wrong password {i:04d}") for i in range(10)
        ))
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(401) <= 5, statuses
        assert set(statuses) <= {401, 429}, statuses
        assert_problem(await login(api.client, member["email"]), 429)

    async def test_lock_is_per_username_case_insensitively(self, api: Api) -> None:
        org = await api.org()
        locked = await add_member(api, org)
        other = await add_member(api, org)
        await self._fail(api.client, locked["email"], 5)
        assert_problem(await login(api.client, locked["email"].upper()), 429)
        await tokens_for(api.client, other["email"])

    async def test_unknown_usernames_are_throttled_like_real_ones(self, api: Api) -> None:
        await self._fail(api.client, "ghost@example.org", 5)
        r = await login(api.client, "ghost@example.org")
        assert_problem(r, 429)
        assert int(r.headers["retry-after"]) > 0

    async def test_state_survives_into_another_app_instance(
        self, api: Api, settings: Settings
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        await self._fail(api.client, member["email"], 5)
        fresh = create_app(settings)
        async with fresh.router.lifespan_context(fresh), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fresh), base_url="http://testserver"
        ) as other_worker:
            r = await login(other_worker, member["email"])
            assert_problem(r, 429)
            assert int(r.headers["retry-after"]) > 0

    async def test_lock_in_the_table_is_honoured_and_expires(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        username = member["email"].lower()
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO login_throttle (username, failures, window_started_at, "
                "locked_until) VALUES (:u, 5, now(), now() + interval '10 minutes')"
            ), {"u": username})
        r = await login(api.client, member["email"])
        assert_problem(r, 429)
        assert 0 < int(r.headers["retry-after"]) <= 600

        async with engine.begin() as conn:
            await conn.execute(text(
                "UPDATE login_throttle SET window_started_at = now() - interval '31 minutes', "
                "locked_until = now() - interval '1 minute' WHERE username = :u"
            ), {"u": username})
        await tokens_for(api.client, member["email"])
        assert await throttle_row(engine, username) is None

    async def test_failures_outside_the_window_do_not_count(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        username = member["email"].lower()
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO login_throttle (username, failures, window_started_at) "
                "VALUES (:u, 4, now() - interval '16 minutes')"
            ), {"u": username})
        await self._fail(api.client, member["email"], 1)
        row = await throttle_row(engine, username)
        assert row.failures == 1
        assert row.locked_until is None
        await tokens_for(api.client, member["email"])

    async def test_successful_login_resets_the_counter(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        org = await api.org()
        member = await add_member(api, org)
        await self._fail(api.client, member["email"], 4)
        assert (await throttle_row(engine, member["email"].lower())).failures == 4
        await tokens_for(api.client, member["email"])
        assert await throttle_row(engine, member["email"].lower()) is None
        # without the reset this would be the fifth failure and lock the account
        await self._fail(api.client, member["email"], 1)
        await tokens_for(api.client, member["email"])


# -- /v1/me ------------------------------------------------------------------------------


class TestMe:
    async def test_user_token(self, api: Api) -> None:
        org = await api.org(name="Harbor Physical Therapy")
        member = await add_member(api, org, role="clinician", name="Dana Reyes")
        pair = await tokens_for(api.client, member["email"])
        r = await me(api.client, pair["access_token"])
        assert r.status_code == 200, r.text
        assert r.json() == {
            "principal_type": "user",
            "id": member["id"],
            "organization_id": org.id,
            "organization_name": "Harbor Physical Therapy",
            "role": "clinician",
            "scopes": sorted(ROLE_SCOPES["clinician"]),
            "email": member["email"],
            "name": "Dana Reyes",
        }

    async def test_api_key(self, api: Api) -> None:
        org = await api.org(scopes=["directory:read", "referrals:read"])
        r = await api.client.get("/v1/me", headers=org.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["principal_type"] == "api_key"
        assert body["organization_id"] == org.id
        assert body["role"] is None
        assert body["scopes"] == ["directory:read", "referrals:read"]

    async def test_platform_key(self, api: Api) -> None:
        r = await api.client.get("/v1/me", headers=api.platform)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["principal_type"] == "api_key"
        assert body["organization_id"] is None
        assert "platform:admin" in body["scopes"]

    async def test_without_token_is_401(self, api: Api) -> None:
        r = await api.client.get("/v1/me")
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].lower().startswith("bearer")
        assert_problem(await api.client.get("/v1/me", headers={"Authorization": "Basic eDp5"}),
                       401)


# -- roles -------------------------------------------------------------------------------


def _readme_role_table() -> dict[str, set[str]] | None:
    """The README's role → scope table, if it has one: either one row per role listing its
    scopes, or a matrix with a column per scope."""
    lines = README.read_text(encoding="utf-8").splitlines()
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*lines, ""]:
        if line.strip().startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
    scope_re = re.compile(r"[a-z]+:[a-z]+")
    unmarked = {"", "-", "\u2014", "\u2013", "no", "\u2717", "\u2718", "\u274c"}
    for table in tables:
        if len(table) < 3 or "role" not in table[0][0].lower():
            continue
        header = [c.strip("`* ") for c in table[0]]
        matrix = all(c in ORG_SCOPES for c in header[1:]) and len(header) > 2
        found: dict[str, set[str]] = {}
        for row in table[2:]:
            role = row[0].strip("`* ").lower()
            if role not in ROLE_SCOPES:
                continue
            if matrix:
                found[role] = {s for s, cell in zip(header[1:], row[1:], strict=False)
                               if cell.strip().lower() not in unmarked}
            else:
                rest = " ".join(row[1:])
                scopes = set(scope_re.findall(rest))
                if not scopes and re.search(r"\ball\b", rest.lower()):
                    scopes = set(ORG_SCOPES)
                found[role] = scopes
        if found.keys() == ROLE_SCOPES.keys():
            return found
    return None


class TestRoles:
    async def test_every_role_gets_its_scopes_from_the_table(self, api: Api) -> None:
        org = await api.org()
        member = await add_member(api, org, role="viewer")
        url = f"/v1/organizations/{org.id}/members/{member['id']}"
        for role, scopes in ROLE_SCOPES.items():
            r = await api.client.patch(url, json={"role": role}, headers=org.headers)
            assert r.status_code == 200, r.text
            token = (await tokens_for(api.client, member["email"]))["access_token"]
            got = (await me(api.client, token)).json()
            assert got["role"] == role
            assert got["scopes"] == sorted(scopes), role

    def test_role_table_is_sane(self) -> None:
        assert set(ROLE_SCOPES) == {"admin", "clinician", "staff", "billing", "viewer"}
        assert ROLE_SCOPES["admin"] == frozenset(ORG_SCOPES)
        for role, scopes in ROLE_SCOPES.items():
            assert scopes <= set(ORG_SCOPES), role
            assert "platform:admin" not in scopes
            assert "org:admin" not in scopes or role == "admin"
            assert "directory:read" in scopes  # every member can use the directory

    async def test_clinician_sends_referrals_viewer_only_reads(self, api: Api) -> None:
        net = await network(api)
        clinician = await add_member(api, net.sender, role="clinician")
        viewer = await add_member(api, net.sender, role="viewer")
        clin = (await tokens_for(api.client, clinician["email"]))["access_token"]
        view = (await tokens_for(api.client, viewer["email"]))["access_token"]

        r = await api.client.post("/v1/referrals", json=net.body(), headers=bearer(clin))
        assert r.status_code == 201, r.text
        referral_id = r.json()["id"]

        r = await api.client.post("/v1/referrals", json=net.body(), headers=bearer(view))
        assert_problem(r, 403)

        r = await api.client.get("/v1/referrals", headers=bearer(view))
        assert r.status_code == 200, r.text
        assert [i["id"] for i in r.json()["items"]] == [referral_id]
        r = await api.client.get(f"/v1/referrals/{referral_id}", headers=bearer(view))
        assert r.status_code == 200, r.text

    async def test_role_change_changes_what_a_new_token_may_do(self, api: Api) -> None:
        net = await network(api)
        member = await add_member(api, net.sender, role="viewer")
        url = f"/v1/organizations/{net.sender.id}/members/{member['id']}"
        token = (await tokens_for(api.client, member["email"]))["access_token"]
        r = await api.client.post("/v1/referrals", json=net.body(), headers=bearer(token))
        assert_problem(r, 403)

        r = await api.client.patch(url, json={"role": "staff"}, headers=net.sender.headers)
        assert r.status_code == 200, r.text
        token = (await tokens_for(api.client, member["email"]))["access_token"]
        r = await api.client.post("/v1/referrals", json=net.body(), headers=bearer(token))
        assert r.status_code == 201, r.text

        r = await api.client.patch(url, json={"role": "billing"}, headers=net.sender.headers)
        assert r.status_code == 200, r.text
        token = (await tokens_for(api.client, member["email"]))["access_token"]
        r = await api.client.post("/v1/referrals", json=net.body(), headers=bearer(token))
        assert_problem(r, 403)
        r = await api.client.get("/v1/referrals", headers=bearer(token))
        assert r.status_code == 200, r.text

    def test_readme_documents_the_role_table(self) -> None:
        if not README.exists():
            pytest.skip("no README.md")
        documented = _readme_role_table()
        if documented is None:
            pytest.skip("README has no role → scope table yet (README is edited separately)")
        assert documented == {role: set(s) for role, s in ROLE_SCOPES.items()}
