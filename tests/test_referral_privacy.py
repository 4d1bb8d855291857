"""Referral privacy: only the two parties see a referral, every PHI access is audited in an
append-only log, PHI responses are not cached, and PHI never reaches a log line."""

from __future__ import annotations

import io
import json
import logging
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from referral_api.observability import JsonFormatter
from tests.factories import Api, Network, Org, bearer, network

PROBLEM_JSON = "application/problem+json"
MEMBER_PASSWORD = "correct horse battery staple"

# Every route that reads or changes one referral, with a body that is valid for it, so
# that a 404 cannot come from body validation.
TODAY = date.today().isoformat()
REFERRAL_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("GET", "/events", None),
    ("POST", "/acknowledge", None),
    ("POST", "/accept", None),
    ("POST", "/decline", {"reason": "Outside our scope of practice"}),
    ("POST", "/schedule", {"appointment_at": "2027-01-05T15:00:00Z"}),
    ("POST", "/cancel", {"reason": "Patient moved away"}),
    ("POST", "/visits", {"date": TODAY, "kind": "initial", "attended": True}),
    ("POST", "/reports", {"kind": "interim", "summary": "Improving with treatment"}),
]


def request_id() -> str:
    return f"privacy-{uuid.uuid4().hex}"


async def call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str],
               body: dict[str, Any] | None = None, rid: str | None = None) -> httpx.Response:
    all_headers = {**headers, **({"X-Request-ID": rid} if rid else {})}
    if body is None:
        return await client.request(method, path, headers=all_headers)
    return await client.request(method, path, json=body, headers=all_headers)


async def create_referral(api: Api, net: Network, **overrides: Any) -> dict[str, Any]:
    r = await api.client.post("/v1/referrals", json=net.body(**overrides),
                              headers=net.sender.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def act(api: Api, org: Org, referral_id: str, action: str,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = await call(api.client, "POST", f"/v1/referrals/{referral_id}/{action}", org.headers,
                   body)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def to_first_visit_completed(api: Api, net: Network, referral_id: str) -> dict[str, Any]:
    await act(api, net.receiver, referral_id, "accept")
    await act(api, net.receiver, referral_id, "schedule",
              {"appointment_at": "2027-01-05T15:00:00Z"})
    return await act(api, net.receiver, referral_id, "visits",
                     {"date": TODAY, "kind": "initial", "attended": True})


async def principal_key(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    r = await client.get("/v1/me", headers=headers)
    assert r.status_code == 200, r.text
    me = r.json()
    return f"{me['principal_type']}:{me['id']}"


async def member_headers(api: Api, org: Org, role: str = "admin") -> dict[str, str]:
    """A member of `org` with `role`, logged in with the password grant."""
    email = f"member{random.randrange(10**9)}@example.com"
    r = await api.client.post(
        f"/v1/organizations/{org.id}/members",
        json={"email": email, "name": "Third Party Member", "role": role,
              "password": MEMBER_PASSWORD},
        headers=org.headers,
    )
    assert r.status_code == 201, r.text
    r = await api.client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": MEMBER_PASSWORD},
    )
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


async def outsider_headers(api: Api, kind: str) -> tuple[dict[str, str], str | None]:
    """Credentials of someone who is not a party to the referral, and their org id."""
    if kind == "other_practice_all_scopes":
        org = await api.org(name="Unrelated Practice")
        return org.headers, org.id
    if kind == "law_firm":
        org = await api.org("law_firm", name="Unrelated Law Firm")
        return org.headers, org.id
    if kind == "platform_admin":
        return api.platform, None
    if kind == "third_org_member":
        org = await api.org(name="Third Practice")
        return await member_headers(api, org), org.id
    raise AssertionError(kind)


OUTSIDERS = ["other_practice_all_scopes", "law_firm", "platform_admin", "third_org_member"]


async def audit_events(client: httpx.AsyncClient, headers: dict[str, str],
                       referral_id: str | None = None) -> list[dict[str, Any]]:
    """Every audit event the caller may see (all pages), newest first."""
    params: dict[str, Any] = {"limit": 100}
    if referral_id is not None:
        params["referral_id"] = referral_id
    out: list[dict[str, Any]] = []
    while True:
        r = await client.get("/v1/audit-events", params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        out.extend(page["items"])
        if page["next_cursor"] is None:
            return out
        params["cursor"] = page["next_cursor"]


def by_request(events: list[dict[str, Any]], rid: str) -> list[dict[str, Any]]:
    return [e for e in events if e["request_id"] == rid]


async def snapshot(api: Api, net: Network, referral_id: str) -> tuple[str, int, int, str]:
    """(status, version, number of events, ETag) as the sender sees them."""
    one = await api.client.get(f"/v1/referrals/{referral_id}", headers=net.sender.headers)
    events = await api.client.get(f"/v1/referrals/{referral_id}/events",
                                  headers=net.sender.headers)
    assert one.status_code == events.status_code == 200
    return (one.json()["status"], one.json()["version"], len(events.json()["items"]),
            one.headers["etag"])


# -- 1. who sees a referral ---------------------------------------------------------------


class TestOutsidersCannotSeeReferrals:
    @pytest.mark.parametrize("outsider", OUTSIDERS)
    async def test_every_route_answers_like_a_missing_id(self, api: Api, outsider: str) -> None:
        net = await network(api)
        fresh = await create_referral(api, net)
        advanced = await create_referral(api, net)
        await to_first_visit_completed(api, net, advanced["id"])
        headers, _ = await outsider_headers(api, outsider)
        before = {r["id"]: await snapshot(api, net, r["id"]) for r in (fresh, advanced)}

        distinguishable, not_404 = [], []
        for method, suffix, body in REFERRAL_ROUTES:
            missing = await call(api.client, method, f"/v1/referrals/{uuid.uuid4()}{suffix}",
                                 headers, body)
            expected = (missing.status_code, missing.headers.get("content-type"), missing.json())
            for referral in (fresh, advanced):
                got = await call(api.client, method, f"/v1/referrals/{referral['id']}{suffix}",
                                 headers, body)
                seen = (got.status_code, got.headers.get("content-type"), got.json())
                if seen != expected:
                    distinguishable.append((method, suffix, referral["status"], seen, expected))
                if got.status_code != 404:
                    not_404.append((method, suffix, referral["status"], got.status_code,
                                    got.json()["detail"]))
            assert missing.headers["content-type"] == PROBLEM_JSON, (method, suffix)
        after = {r["id"]: await snapshot(api, net, r["id"]) for r in (fresh, advanced)}
        assert after == before, "an outsider's request changed the referral"
        # The privacy property proper: nothing tells a real referral from a missing id.
        assert distinguishable == []
        # And the contract's status for another organization's object.
        assert not_404 == []

    @pytest.mark.parametrize("outsider", OUTSIDERS)
    async def test_outsider_list_does_not_contain_it(self, api: Api, outsider: str) -> None:
        net = await network(api)
        referral = await create_referral(api, net)
        headers, _ = await outsider_headers(api, outsider)
        for params in ({}, {"direction": "sent"}, {"direction": "received"},
                       {"partner_organization_id": net.sender.id},
                       {"partner_organization_id": net.receiver.id}):
            r = await api.client.get("/v1/referrals", params=params, headers=headers)
            if r.status_code == 403:  # a principal without referrals:read sees no list at all
                assert r.headers["content-type"] == PROBLEM_JSON
                assert referral["id"] not in r.text
                continue
            assert r.status_code == 200, r.text
            assert r.json()["items"] == [], params
            assert referral["id"] not in r.text


class TestPartiesSeeTheirReferrals:
    async def test_sender_and_receiver_get_200(self, api: Api) -> None:
        net = await network(api)
        referral = await create_referral(api, net)
        receiver_member = await member_headers(api, net.receiver, role="viewer")
        for headers in (net.sender.headers, net.receiver.headers, receiver_member):
            one = await api.client.get(f"/v1/referrals/{referral['id']}", headers=headers)
            assert one.status_code == 200, one.text
            assert one.json()["patient"] == referral["patient"]
            events = await api.client.get(f"/v1/referrals/{referral['id']}/events",
                                          headers=headers)
            assert events.status_code == 200, events.text
            assert [e["action"] for e in events.json()["items"]] == ["create"]
            listed = await api.client.get("/v1/referrals", headers=headers)
            assert [i["id"] for i in listed.json()["items"]] == [referral["id"]]


# -- 2. no caching of PHI -----------------------------------------------------------------


class TestNoStoreOnPhiResponses:
    async def test_every_phi_response_says_no_store(self, api: Api) -> None:
        net = await network(api)
        responses: list[httpx.Response] = []

        async def record(method: str, path: str, org: Org, body: dict[str, Any] | None = None,
                         extra: dict[str, str] | None = None) -> httpx.Response:
            r = await call(api.client, method, path, {**org.headers, **(extra or {})}, body)
            assert r.status_code in (200, 201), (method, path, r.text)
            responses.append(r)
            return r

        body = net.body(external_id="ehr-1")
        created = (await record("POST", "/v1/referrals", net.sender, body)).json()
        rid = created["id"]
        await record("POST", "/v1/referrals", net.sender, body)  # same external_id: 200
        key = {"Idempotency-Key": "privacy-1"}
        await record("POST", "/v1/referrals", net.sender, net.body(), key)
        replay = await record("POST", "/v1/referrals", net.sender, net.body(), key)
        assert replay.headers.get("idempotent-replayed") == "true"

        await record("GET", "/v1/referrals", net.sender)
        await record("GET", "/v1/referrals", net.receiver)
        await record("GET", f"/v1/referrals/{rid}", net.sender)
        await record("GET", f"/v1/referrals/{rid}/events", net.receiver)
        await record("POST", f"/v1/referrals/{rid}/acknowledge", net.receiver)
        await record("POST", f"/v1/referrals/{rid}/accept", net.receiver)
        await record("POST", f"/v1/referrals/{rid}/schedule", net.receiver,
                     {"appointment_at": "2027-01-05T15:00:00Z"})
        await record("POST", f"/v1/referrals/{rid}/visits", net.receiver,
                     {"date": TODAY, "kind": "initial", "attended": True})
        await record("POST", f"/v1/referrals/{rid}/reports", net.receiver,
                     {"kind": "interim", "summary": "Improving"})
        await record("POST", f"/v1/referrals/{rid}/cancel", net.sender, {"reason": "Moved"})
        other = await create_referral(api, net)
        await record("POST", f"/v1/referrals/{other['id']}/decline", net.receiver,
                     {"reason": "Not our specialty"})
        await record("GET", "/v1/audit-events", net.sender)
        await record("GET", "/v1/audit-events", net.receiver)
        responses.append(await api.client.get("/v1/audit-events", params={"referral_id": rid},
                                              headers=net.receiver.headers))

        lacking = [(r.request.method, r.request.url.path, r.status_code,
                    "replayed" if r.headers.get("idempotent-replayed") else "first",
                    r.headers.get("cache-control"))
                   for r in responses if "no-store" not in r.headers.get("cache-control", "")]
        assert lacking == []


# -- 3. the audit trail -------------------------------------------------------------------


@dataclass
class Expected:
    action: str
    principal: str
    organization_id: str


class TestAuditTrail:
    async def test_each_read_and_write_by_a_party_is_audited(self, api: Api) -> None:
        net = await network(api)
        sender_key = await principal_key(api.client, net.sender.headers)
        receiver_key = await principal_key(api.client, net.receiver.headers)
        rid = request_id()
        r = await call(api.client, "POST", "/v1/referrals", net.sender.headers, net.body(),
                       rid)
        assert r.status_code == 201
        referral = r.json()
        ref_id, patient_id = referral["id"], referral["patient"]["id"]
        expected = {rid: Expected("referral.create", sender_key, net.sender.id)}

        steps: list[tuple[Org, str, str, dict[str, Any] | None, str]] = [
            (net.receiver, "GET", "", None, "referral.read"),
            (net.sender, "GET", "", None, "referral.read"),
            (net.sender, "GET", "/events", None, "referral.events"),
            (net.receiver, "POST", "/acknowledge", None, "referral.acknowledge"),
            (net.receiver, "POST", "/accept", None, "referral.accept"),
            (net.receiver, "POST", "/schedule", {"appointment_at": "2027-01-05T15:00:00Z"},
             "referral.schedule"),
            (net.receiver, "POST", "/visits", {"date": TODAY, "kind": "initial",
                                               "attended": True}, "referral.visit"),
            (net.receiver, "POST", "/reports", {"kind": "interim", "summary": "Better"},
             "referral.report"),
            (net.receiver, "GET", "/events", None, "referral.events"),
            (net.sender, "POST", "/cancel", {"reason": "Patient moved"}, "referral.cancel"),
        ]
        for org, method, suffix, body, action in steps:
            rid = request_id()
            r = await call(api.client, method, f"/v1/referrals/{ref_id}{suffix}", org.headers,
                           body, rid)
            assert r.status_code in (200, 201), (method, suffix, r.text)
            assert r.headers["x-request-id"] == rid
            key = sender_key if org is net.sender else receiver_key
            expected[rid] = Expected(action, key, org.id)

        for viewer in (net.sender, net.receiver):
            events = await audit_events(api.client, viewer.headers, ref_id)
            ids = [e["id"] for e in events]
            assert ids == sorted(ids, reverse=True), "newest first"
            for rid, want in expected.items():
                got = by_request(events, rid)
                assert len(got) == 1, (want.action, got)
                (event,) = got
                assert event["principal"] == want.principal
                assert event["organization_id"] == want.organization_id
                assert event["action"] == want.action
                assert event["referral_id"] == ref_id
                assert event["patient_id"] == patient_id
                assert event["outcome"] == "success"
                assert datetime.fromisoformat(event["at"]).tzinfo is not None
            assert len(events) == len(expected)

    async def test_listing_audits_one_event_per_referral_listed(self, api: Api) -> None:
        net = await network(api)
        first, second = await create_referral(api, net), await create_referral(api, net)
        sender_key = await principal_key(api.client, net.sender.headers)
        rid = request_id()
        r = await call(api.client, "GET", "/v1/referrals", net.sender.headers, rid=rid)
        assert r.status_code == 200
        assert {i["id"] for i in r.json()["items"]} == {first["id"], second["id"]}

        events = by_request(await audit_events(api.client, net.sender.headers), rid)
        assert sorted((e["referral_id"], e["patient_id"]) for e in events) == sorted(
            (x["id"], x["patient"]["id"]) for x in (first, second))
        for e in events:
            assert (e["action"], e["outcome"], e["principal"], e["organization_id"]) == (
                "referral.list", "success", sender_key, net.sender.id)

        # a page lists (and audits) only what it returns
        rid = request_id()
        r = await call(api.client, "GET", "/v1/referrals?limit=1", net.sender.headers, rid=rid)
        assert len(r.json()["items"]) == 1
        events = by_request(await audit_events(api.client, net.sender.headers), rid)
        assert [e["referral_id"] for e in events] == [r.json()["items"][0]["id"]]

    @pytest.mark.parametrize("outsider", OUTSIDERS)
    async def test_denied_attempts_are_visible_to_both_parties(self, api: Api,
                                                               outsider: str) -> None:
        net = await network(api)
        referral = await create_referral(api, net)
        headers, outsider_org = await outsider_headers(api, outsider)
        outsider_key = await principal_key(api.client, headers)
        attempts = {}
        for method, suffix, body in REFERRAL_ROUTES:
            rid = request_id()
            r = await call(api.client, method, f"/v1/referrals/{referral['id']}{suffix}",
                           headers, body, rid)
            assert r.status_code in (403, 404)  # the status itself is checked above
            attempts[rid] = (method, suffix)

        for viewer in (net.sender, net.receiver):
            events = await audit_events(api.client, viewer.headers, referral["id"])
            unaudited = [a for rid, a in attempts.items() if not by_request(events, rid)]
            assert unaudited == []
            for rid, attempt in attempts.items():
                (event,) = by_request(events, rid)
                assert event["outcome"] == "denied", attempt
                assert event["principal"] == outsider_key
                assert event["organization_id"] == outsider_org
                assert event["referral_id"] == referral["id"]
                assert event["action"].startswith("referral."), event

    async def test_outsider_audit_log_does_not_reveal_that_the_referral_exists(
            self, api: Api) -> None:
        # The outsider's own admins read their organization's audit log: what it says
        # about their attempt on a real referral must not differ from an attempt on a
        # missing id, or the 404 is no longer indistinguishable.
        net = await network(api)
        referral = await create_referral(api, net)
        outsider = await api.org(name="Curious Practice")
        missing_id = str(uuid.uuid4())
        seen = []
        for target in (referral["id"], missing_id):
            r = await api.client.get(f"/v1/referrals/{target}", headers=outsider.headers)
            assert r.status_code == 404
            events = await audit_events(api.client, outsider.headers, target)
            # only its own attempt, never the parties' accesses
            assert [e["organization_id"] for e in events] == [outsider.id]
            seen.append([{k: v for k, v in e.items()
                          if k not in ("id", "at", "request_id", "referral_id")}
                         for e in events])
        assert seen[0] == seen[1]

    async def test_failed_transition_is_audited_as_failed(self, api: Api) -> None:
        net = await network(api)
        referral = await create_referral(api, net)
        before = await snapshot(api, net, referral["id"])
        rid = request_id()
        r = await call(api.client, "POST", f"/v1/referrals/{referral['id']}/schedule",
                       net.receiver.headers, {"appointment_at": "2027-01-05T15:00:00Z"}, rid)
        assert r.status_code == 409
        assert r.headers["content-type"] == PROBLEM_JSON
        assert set(r.json()["allowed_actions"]) == {"acknowledge", "accept", "decline"}
        assert await snapshot(api, net, referral["id"]) == before

        for viewer in (net.sender, net.receiver):
            got = by_request(await audit_events(api.client, viewer.headers, referral["id"]),
                             rid)
            assert [(e["action"], e["outcome"], e["organization_id"]) for e in got] == [
                ("referral.schedule", "failed", net.receiver.id)]

    async def test_audit_entries_carry_no_phi(self, api: Api) -> None:
        net = await network(api)
        patient = {"first_name": "Evangelina", "last_name": "Quartermaine",
                   "birth_date": "1979-11-23", "phone": "+1 917 555 0199",
                   "email": "evangelina.q@example.org"}
        body = net.body(patient=patient)
        note = body["note"]
        referral = await create_referral(api, net, patient=patient)
        ref_id = referral["id"]
        await to_first_visit_completed(api, net, ref_id)
        await act(api, net.receiver, ref_id, "reports",
                  {"kind": "outcome", "summary": "Discharged pain-free", "goals": "met"})
        for org in (net.sender, net.receiver):
            await api.client.get(f"/v1/referrals/{ref_id}", headers=org.headers)
            await api.client.get(f"/v1/referrals/{ref_id}/events", headers=org.headers)
            await api.client.get("/v1/referrals", headers=org.headers)
        outsider = await api.org()
        await api.client.get(f"/v1/referrals/{ref_id}", headers=outsider.headers)
        await api.client.post(f"/v1/referrals/{ref_id}/accept", headers=net.receiver.headers)

        phi = [patient["first_name"], patient["last_name"], patient["birth_date"],
               patient["phone"], patient["email"], "555 0199", note["chief_complaint"],
               note["clinical_question"], note["precautions"], note["mechanism_of_injury"],
               note["clinical_impression"], "Discharged pain-free"]
        for viewer in (net.sender, net.receiver, outsider):
            dump = json.dumps(await audit_events(api.client, viewer.headers))
            assert [v for v in phi if v.lower() in dump.lower()] == []
        assert len(await audit_events(api.client, net.sender.headers, ref_id)) >= 10

    async def test_audit_log_needs_org_admin(self, api: Api) -> None:
        net = await network(api)
        await create_referral(api, net)
        no_admin = await api.org(scopes=["referrals:read", "referrals:write", "metrics:read"])
        clinician = await member_headers(api, net.sender, role="clinician")
        for headers in (no_admin.headers, clinician, api.platform):
            r = await api.client.get("/v1/audit-events", headers=headers)
            assert r.status_code == 403, r.text
            assert r.headers["content-type"] == PROBLEM_JSON
            assert "items" not in r.json()
        r = await api.client.get("/v1/audit-events")
        assert r.status_code == 401
        admin = await member_headers(api, net.sender, role="admin")
        r = await api.client.get("/v1/audit-events", headers=admin)
        assert r.status_code == 200
        assert [e["action"] for e in r.json()["items"]] == ["referral.create"]


class TestAuditLogIsAppendOnly:
    async def test_no_route_changes_or_deletes_audit_events(self, api: Api) -> None:
        net = await network(api)
        await create_referral(api, net)
        (event,) = await audit_events(api.client, net.sender.headers)
        for path in ("/v1/audit-events", f"/v1/audit-events/{event['id']}",
                     "/v1/audit-events/1"):
            for method in ("PUT", "PATCH", "DELETE"):
                r = await api.client.request(method, path, json={"outcome": "success"},
                                             headers=net.sender.headers)
                assert r.status_code in (404, 405), (method, path, r.status_code)
                assert r.headers["content-type"] == PROBLEM_JSON, (method, path)
                assert r.json()["status"] == r.status_code
        assert await audit_events(api.client, net.sender.headers) == [event]

    async def test_database_refuses_update_and_delete(self, api: Api,
                                                      engine: AsyncEngine) -> None:
        net = await network(api)
        referral = await create_referral(api, net)
        await api.client.get(f"/v1/referrals/{referral['id']}", headers=net.receiver.headers)
        before = await audit_events(api.client, net.sender.headers)
        assert len(before) == 2
        for statement in ("UPDATE audit_events SET outcome = 'success', principal = 'nobody'",
                          "UPDATE audit_events SET at = now() WHERE id = "
                          f"{before[0]['id']}",
                          "DELETE FROM audit_events",
                          f"DELETE FROM audit_events WHERE id = {before[-1]['id']}"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
        assert await audit_events(api.client, net.sender.headers) == before


# -- 4. no PHI in logs --------------------------------------------------------------------

CANARY = "Zqxcanary"
BAD_CODE = "ZQXCAN"  # not an ICD-10-CM code, and itself a canary


def contains_canary(value: str) -> bool:
    lowered = value.lower()
    return CANARY.lower() in lowered or BAD_CODE.lower() in lowered


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The service's own JSON log format, on the root logger, at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


class TestNoPhiInLogs:
    async def test_canary_reaches_no_log_record(self, api: Api, caplog: pytest.LogCaptureFixture,
                                                json_log: io.StringIO) -> None:
        net = await network(api)
        outsider = await api.org()
        caplog.set_level(logging.DEBUG)
        assert logging.getLogger("referral_api.access").isEnabledFor(logging.DEBUG)
        patient = {"first_name": f"Ann{CANARY}", "last_name": f"{CANARY}son",
                   "birth_date": "1990-01-02", "email": f"{CANARY.lower()}@example.com"}
        note = {**net.body()["note"],
                "chief_complaint": f"Low back pain ({CANARY} chief complaint)",
                "clinical_question": f"Is {CANARY} a candidate for lumbar stabilization?",
                "precautions": f"{CANARY} precautions"}
        body = net.body(patient=patient, note=note, external_id=f"ehr-{uuid.uuid4().hex}")

        r = await api.client.post("/v1/referrals", json=body, headers=net.sender.headers)
        assert r.status_code == 201, r.text
        ref_id = r.json()["id"]
        r = await api.client.post("/v1/referrals", json=body, headers=net.sender.headers)
        assert r.status_code == 200  # same external_id
        for org in (net.sender, net.receiver):
            assert (await api.client.get(f"/v1/referrals/{ref_id}",
                                         headers=org.headers)).status_code == 200
            assert (await api.client.get("/v1/referrals", headers=org.headers)
                    ).status_code == 200
        await act(api, net.receiver, ref_id, "accept")
        r = await api.client.post(f"/v1/referrals/{ref_id}/decline",
                                  json={"reason": f"{CANARY} is not a fit"},
                                  headers=net.receiver.headers)
        assert r.status_code == 409
        r = await api.client.get(f"/v1/referrals/{ref_id}", headers=outsider.headers)
        assert r.status_code == 404
        r = await api.client.post(f"/v1/referrals/{ref_id}/cancel",
                                  json={"reason": f"{CANARY} cancel"},
                                  headers=outsider.headers)
        assert r.status_code == 404
        without_external_id = {k: v for k, v in body.items() if k != "external_id"}
        for _, invalid in invalid_bodies(without_external_id):
            r = await api.client.post("/v1/referrals", json=invalid, headers=net.sender.headers)
            assert r.status_code == 422, r.text
        r = await api.client.post("/v1/referrals", content=json.dumps(body)[:-5],
                                  headers={**net.sender.headers,
                                           "Content-Type": "application/json"})
        assert r.status_code in (400, 422)

        assert caplog.records, "the access log should have produced records"
        leaking = [(rec.name, rec.levelname, rec.getMessage()[:300]) for rec in caplog.records
                   if contains_canary(rec.getMessage()) or contains_canary(repr(rec.__dict__))]
        assert leaking == []
        assert not contains_canary(caplog.text)
        output = json_log.getvalue()
        assert output, "the JSON handler should have seen the access log"
        assert [line[:300] for line in output.splitlines() if contains_canary(line)] == []

    async def test_422_bodies_do_not_echo_invalid_phi(self, api: Api) -> None:
        net = await network(api)
        body = net.body()
        echoed = []
        for pointer, invalid in invalid_bodies(body):
            r = await api.client.post("/v1/referrals", json=invalid, headers=net.sender.headers)
            assert r.status_code == 422, r.text
            assert r.headers["content-type"] == PROBLEM_JSON
            problem = r.json()
            assert any(e["pointer"].startswith(pointer) for e in problem["errors"]), problem
            if contains_canary(r.text):
                echoed.append((pointer, r.text))
        assert echoed == []


def invalid_bodies(valid: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(pointer of the error, referral body) for bodies that are 422 because a PHI value
    (carrying the canary) is invalid, plus some invalid elsewhere whose PHI carries it."""
    def with_patient(**fields: Any) -> dict[str, Any]:
        return {**valid, "patient": {**valid["patient"], **fields}}

    def with_note(**fields: Any) -> dict[str, Any]:
        return {**valid, "note": {**valid["note"], **fields}}

    return [
        ("/body/patient/first_name", with_patient(first_name=CANARY + "x" * 600)),
        ("/body/patient/last_name", with_patient(last_name=CANARY * 20)),
        ("/body/patient/first_name", with_patient(first_name=["Ann", CANARY])),
        ("/body/patient/birth_date", with_patient(birth_date=f"{CANARY}-01-01")),
        ("/body/patient/phone", with_patient(phone=f"+1 {CANARY} 555")),
        ("/body/patient/email", with_patient(email=f"{CANARY}@@bad")),
        ("/body/patient/email", with_patient(email=f"{CANARY} <x>@example.com")),
        ("/body/note/diagnosis_codes", with_note(diagnosis_codes=["S13.4XXA", BAD_CODE])),
        ("/body/note/diagnosis_codes", with_note(diagnosis_codes=[f"{BAD_CODE}-{CANARY}"])),
        ("/body/note/chief_complaint", with_note(chief_complaint=CANARY + "y" * 5001)),
        ("/body/note/clinical_question", with_note(clinical_question={"text": CANARY})),
        ("/body/note/onset_date", with_note(onset_date=CANARY)),
        ("/body/note/communication/method",
         with_note(communication={"method": CANARY, "report_expected": True})),
        ("/body/attestation/no_remuneration",
         {**with_patient(last_name=CANARY), "attestation": {"no_remuneration": False}}),
        ("/body/to_provider_id",
         {**with_patient(last_name=CANARY), "to_provider_id": str(uuid.uuid4())}),
    ]
