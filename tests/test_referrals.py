"""Referrals: validation, completeness, external_id, lifecycle, visits, reports, lists."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Api, Network, network


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


@pytest.fixture
async def net(api: Api) -> Network:
    return await network(api)


async def send(api: Api, net: Network, **overrides: Any) -> dict[str, Any]:
    r = await api.client.post("/v1/referrals", json=net.body(**overrides),
                              headers=net.sender.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def act(api: Api, net: Network, rid: str, action: str, body: Any = None,
              side: str = "receiver") -> Any:
    org = net.receiver if side == "receiver" else net.sender
    return await api.client.post(f"/v1/referrals/{rid}/{action}", json=body, headers=org.headers)


def note_with(**fields: Any) -> dict[str, Any]:
    from tests.factories import referral_body

    note = dict(referral_body("a", "b")["note"])
    note.update(fields)
    return {k: v for k, v in note.items() if v is not None}


class TestCreateReferral:
    async def test_complete_note_scores_100(self, api: Api, net: Network) -> None:
        ref = await send(api, net)
        assert ref["status"] == "sent"
        assert ref["completeness"] == {"score": 100, "missing": []}
        assert ref["sender_organization_id"] == net.sender.id
        assert ref["receiver_organization_id"] == net.receiver.id
        assert ref["note"]["diagnosis_codes"] == ["S13.4XXA", "M54.12"]  # dotted, normalized
        assert ref["attestation"]["no_remuneration"] is True
        assert ref["overdue"] is False

    async def test_missing_elements_are_named_and_scored(self, api: Api, net: Network) -> None:
        note = {
            "chief_complaint": "Low back pain",
            "clinical_question": "Is he a candidate for lumbar decompression therapy?",
        }
        patient = {"first_name": "Al", "last_name": "Ng", "birth_date": "1970-01-01"}
        ref = await send(api, net, note=note, patient=patient)
        assert ref["completeness"]["missing"] == [
            "patient_identity", "chief_complaint_with_mechanism_or_onset",
            "diagnosis_or_impression", "care_to_date_with_response", "precautions",
            "communication_preference",
        ]
        assert ref["completeness"]["score"] == round(100 * 1 / 7)

    @pytest.mark.parametrize(("fields", "score"), [
        ({"precautions": None}, round(100 * 6 / 7)),
        ({"precautions": None, "care_to_date": None}, round(100 * 5 / 7)),
        ({"mechanism_of_injury": None}, 100),  # onset_date still present
        ({"mechanism_of_injury": None, "onset_date": None}, round(100 * 6 / 7)),
        ({"diagnosis_codes": [], "clinical_impression": None}, round(100 * 6 / 7)),
        ({"diagnosis_codes": []}, 100),  # the impression is enough
    ])
    async def test_score_is_round_of_present_over_seven(
        self, api: Api, net: Network, fields: dict[str, Any], score: int
    ) -> None:
        ref = await send(api, net, note=note_with(**fields))
        assert ref["completeness"]["score"] == score

    @pytest.mark.parametrize("question", [
        "please evaluate", "Eval and treat", "evaluate & treat", "Please see and treat.",
        "Consult", "PT eval and treat, thanks", "Please evaluate and treat as indicated",
    ])
    async def test_vague_clinical_question_is_422(self, api: Api, net: Network,
                                                 question: str) -> None:
        r = await api.client.post("/v1/referrals",
                                  json=net.body(note=note_with(clinical_question=question)),
                                  headers=net.sender.headers)
        assert r.status_code == 422
        error = r.json()["errors"][0]
        assert error["pointer"] == "/body/note/clinical_question"
        assert "specific" in r.json()["detail"] or "clinical question" in error["detail"]

    @pytest.mark.parametrize("codes", [
        ["M54"],          # a category, not billable
        ["M54.5"],        # a subcategory with children
        ["S13.4"],        # needs the 7th character
        ["ZZZ.99"],       # not a code
        ["M54.50", "12345"],
    ])
    async def test_non_billable_icd10_is_422(self, api: Api, net: Network,
                                             codes: list[str]) -> None:
        r = await api.client.post("/v1/referrals",
                                  json=net.body(note=note_with(diagnosis_codes=codes)),
                                  headers=net.sender.headers)
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"] == "/body/note/diagnosis_codes"

    async def test_codes_with_or_without_dot(self, api: Api, net: Network) -> None:
        ref = await send(api, net, note=note_with(diagnosis_codes=["m5450", "S134XXA"]))
        assert ref["note"]["diagnosis_codes"] == ["M54.50", "S13.4XXA"]

    @pytest.mark.parametrize("attestation", [{"no_remuneration": False}, {}, None,
                                             {"no_remuneration": "true"}])
    async def test_attestation_must_be_true(self, api: Api, net: Network,
                                            attestation: Any) -> None:
        body = net.body(attestation=attestation)
        r = await api.client.post("/v1/referrals", json=body, headers=net.sender.headers)
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"].startswith("/body/attestation")

    async def test_provider_ids_must_exist_and_belong(self, api: Api, net: Network) -> None:
        cases = [
            ({"to_provider_id": str(uuid.uuid4())}, "/body/to_provider_id"),
            ({"from_provider_id": net.to_provider["id"]}, "/body/from_provider_id"),
        ]
        for overrides, pointer in cases:
            r = await api.client.post("/v1/referrals", json=net.body(**overrides),
                                      headers=net.sender.headers)
            assert r.status_code == 422, overrides
            assert r.json()["errors"][0]["pointer"] == pointer

    async def test_exactly_one_sender(self, api: Api, net: Network) -> None:
        body = net.body()
        body.pop("from_provider_id")
        r = await api.client.post("/v1/referrals", json=body, headers=net.sender.headers)
        assert r.status_code == 422

    async def test_not_accepting_referrals_is_422(self, api: Api, net: Network) -> None:
        r = await api.client.patch(f"/v1/providers/{net.to_provider['id']}",
                                   json={"accepting_referrals": False},
                                   headers=net.receiver.headers)
        assert r.status_code == 200
        r = await api.client.post("/v1/referrals", json=net.body(), headers=net.sender.headers)
        assert r.status_code == 422

    async def test_needs_referrals_write(self, api: Api, net: Network) -> None:
        reader = await api.org(scopes=["referrals:read"])
        r = await api.client.post("/v1/referrals", json=net.body(), headers=reader.headers)
        assert r.status_code == 403


class TestExternalId:
    async def test_repeat_returns_existing_with_200(self, api: Api, net: Network,
                                                    engine: AsyncEngine) -> None:
        first = await send(api, net, external_id="EHR-77")
        r = await api.client.post("/v1/referrals", json=net.body(external_id="EHR-77"),
                                  headers=net.sender.headers)
        assert r.status_code == 200
        assert r.json()["id"] == first["id"]
        assert await _count(engine, "referrals") == 1

    async def test_external_id_is_per_sender(self, api: Api, net: Network) -> None:
        other = await network(api)
        a = await send(api, net, external_id="same")
        b = await send(api, other, external_id="same")
        assert a["id"] != b["id"]

    async def test_50_concurrent_creates_with_one_external_id(
        self, api: Api, net: Network, engine: AsyncEngine
    ) -> None:
        body = net.body(external_id="storm")
        results = await asyncio.gather(*[
            api.client.post("/v1/referrals", json=body, headers=net.sender.headers)
            for _ in range(50)
        ])
        assert sorted({r.status_code for r in results}) in ([200, 201], [201])
        assert sum(r.status_code == 201 for r in results) == 1
        assert len({r.json()["id"] for r in results}) == 1
        assert await _count(engine, "referrals") == 1
        assert await _count(engine, "patients") == 1

    async def test_50_concurrent_creates_with_one_idempotency_key(
        self, api: Api, net: Network, engine: AsyncEngine
    ) -> None:
        headers = {**net.sender.headers, "Idempotency-Key": "one-key"}
        body = net.body()
        results = await asyncio.gather(*[
            api.client.post("/v1/referrals", json=body, headers=headers) for _ in range(50)
        ])
        assert {r.status_code for r in results} <= {201, 409}
        assert all(r.status_code < 500 for r in results)
        ok = [r.json()["id"] for r in results if r.status_code == 201]
        assert ok
        assert len(set(ok)) == 1
        assert await _count(engine, "referrals") == 1


class TestLifecycle:
    async def _to_scheduled(self, api: Api, net: Network) -> str:
        rid = (await send(api, net))["id"]
        for action, body in (("acknowledge", None), ("accept", None),
                             ("schedule", {"appointment_at": "2026-12-20T15:00:00Z"})):
            r = await act(api, net, rid, action, body)
            assert r.status_code == 200, r.text
        return str(rid)

    async def test_closed_loop_with_events(self, api: Api, net: Network) -> None:
        rid = await self._to_scheduled(api, net)
        r = await act(api, net, rid, "visits",
                      {"date": "2026-12-20", "kind": "initial", "attended": True})
        assert r.status_code == 201
        assert r.json()["status"] == "first_visit_completed"
        r = await act(api, net, rid, "visits",
                      {"date": "2026-12-27", "kind": "follow_up", "attended": True})
        assert r.json()["status"] == "first_visit_completed"
        r = await act(api, net, rid, "reports", {"kind": "interim", "summary": "Improving"})
        assert r.json()["status"] == "first_visit_completed"
        r = await act(api, net, rid, "reports",
                      {"kind": "outcome", "summary": "Discharged", "goals": "met",
                       "pain_initial": 7, "pain_discharge": 2})
        body = r.json()
        assert body["status"] == "completed"
        assert [v["kind"] for v in body["visits"]] == ["initial", "follow_up"]
        assert [x["kind"] for x in body["reports"]] == ["interim", "outcome"]
        ev = await api.client.get(f"/v1/referrals/{rid}/events", headers=net.sender.headers)
        items = ev.json()["items"]
        assert [(e["from_status"], e["to_status"]) for e in items] == [
            (None, "sent"), ("sent", "acknowledged"), ("acknowledged", "accepted"),
            ("accepted", "scheduled"), ("scheduled", "first_visit_completed"),
            ("first_visit_completed", "first_visit_completed"),
            ("first_visit_completed", "first_visit_completed"),
            ("first_visit_completed", "completed"),
        ]
        assert all(e["actor"] and e["at"] for e in items)
        assert items[1]["actor_organization_id"] == net.receiver.id
        assert ev.headers["cache-control"] == "no-store"

    async def test_no_show_then_reschedule(self, api: Api, net: Network) -> None:
        rid = await self._to_scheduled(api, net)
        r = await act(api, net, rid, "visits",
                      {"date": "2026-12-20", "kind": "initial", "attended": False})
        assert r.json()["status"] == "no_show"
        r = await act(api, net, rid, "schedule", {"appointment_at": "2026-12-28T15:00:00Z"})
        assert r.json()["status"] == "scheduled"
        r = await act(api, net, rid, "schedule", {"appointment_at": "2026-12-29T15:00:00Z"})
        assert r.json()["status"] == "scheduled"  # rescheduled
        assert r.json()["appointment_at"] == "2026-12-29T15:00:00Z"

    async def test_decline_with_reason(self, api: Api, net: Network) -> None:
        rid = (await send(api, net))["id"]
        r = await act(api, net, rid, "decline", {"reason": "Outside our scope"})
        assert r.json()["status"] == "declined"
        assert r.json()["decline_reason"] == "Outside our scope"
        r = await act(api, net, rid, "accept")
        assert r.status_code == 409
        assert r.json()["allowed_actions"] == []

    async def test_invalid_transition_names_allowed_actions(self, api: Api,
                                                            net: Network) -> None:
        rid = (await send(api, net))["id"]
        r = await act(api, net, rid, "schedule", {"appointment_at": "2026-12-20T15:00:00Z"})
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["allowed_actions"] == ["acknowledge", "accept", "decline"]
        for action in ("acknowledge", "accept", "decline"):
            assert action in r.json()["detail"]
        r = await act(api, net, rid, "reports", {"kind": "interim", "summary": "x"})
        assert r.status_code == 409
        r = await act(api, net, rid, "visits",
                      {"date": "2026-12-20", "kind": "follow_up", "attended": True})
        assert r.status_code == 409

    async def test_only_the_named_side_may_act(self, api: Api, net: Network) -> None:
        rid = (await send(api, net))["id"]
        for action, body in (("acknowledge", None), ("accept", None),
                             ("decline", {"reason": "x"})):
            r = await act(api, net, rid, action, body, side="sender")
            assert r.status_code == 403, action
        r = await act(api, net, rid, "cancel", {"reason": "x"}, side="receiver")
        assert r.status_code == 403
        r = await act(api, net, rid, "cancel", {"reason": "Patient moved"}, side="sender")
        assert r.json()["status"] == "cancelled"
        r = await act(api, net, rid, "cancel", {"reason": "again"}, side="sender")
        assert r.status_code == 409

    async def test_concurrent_actions_never_both_apply(self, api: Api, net: Network) -> None:
        for _ in range(3):
            rid = (await send(api, net))["id"]
            accept, decline = await asyncio.gather(
                act(api, net, rid, "accept"), act(api, net, rid, "decline", {"reason": "busy"})
            )
            assert sorted([accept.status_code, decline.status_code]) == [200, 409]
            ev = await api.client.get(f"/v1/referrals/{rid}/events",
                                      headers=net.sender.headers)
            assert len(ev.json()["items"]) == 2

    async def test_report_validation(self, api: Api, net: Network) -> None:
        rid = await self._to_scheduled(api, net)
        await act(api, net, rid, "visits",
                  {"date": "2026-12-20", "kind": "initial", "attended": True})
        for body in (
            {"kind": "outcome", "summary": "x"},  # goals required
            {"kind": "outcome", "summary": "x", "goals": "met", "pain_initial": 11},
            {"kind": "outcome", "summary": "x", "goals": "met", "pain_discharge": -1},
            {"kind": "outcome", "summary": "x", "goals": "met", "pain_initial": 3.5},
            {"kind": "interim", "summary": "x", "goals": "met"},
        ):
            r = await act(api, net, rid, "reports", body)
            assert r.status_code == 422, body


class TestReadAndList:
    async def test_get_has_etag_and_no_store(self, api: Api, net: Network) -> None:
        rid = (await send(api, net))["id"]
        r = await api.client.get(f"/v1/referrals/{rid}", headers=net.receiver.headers)
        assert r.status_code == 200
        assert r.headers["etag"] == '"v1"'
        assert r.headers["cache-control"] == "no-store"
        assert r.json()["patient"]["last_name"] == "Lopez"
        assert r.json()["allowed_actions"] == ["acknowledge", "accept", "decline"]

    async def test_direction_status_partner_filters(self, api: Api, net: Network) -> None:
        a = (await send(api, net))["id"]
        b = (await send(api, net))["id"]
        await act(api, net, b, "accept")
        back = await api.client.post(
            "/v1/referrals",
            json={**net.body(), "from_provider_id": net.to_provider["id"],
                  "to_provider_id": net.from_provider["id"]},
            headers=net.receiver.headers,
        )
        assert back.status_code == 201
        c = back.json()["id"]

        async def ids(**params: Any) -> list[str]:
            r = await api.client.get("/v1/referrals", params=params, headers=net.sender.headers)
            assert r.status_code == 200, r.text
            return [i["id"] for i in r.json()["items"]]

        assert set(await ids()) == {a, b, c}
        assert set(await ids(direction="sent")) == {a, b}
        assert await ids(direction="received") == [c]
        assert await ids(status="accepted") == [b]
        assert set(await ids(partner_organization_id=net.receiver.id)) == {a, b, c}
        assert await ids(partner_organization_id=str(uuid.uuid4())) == []
        r = await api.client.get("/v1/referrals", params={"direction": "sideways"},
                                 headers=net.sender.headers)
        assert r.status_code == 422

    async def test_updated_since(self, api: Api, net: Network) -> None:
        old = (await send(api, net))["id"]
        cut = datetime.now(UTC)
        new = (await send(api, net))["id"]
        await act(api, net, old, "acknowledge")
        r = await api.client.get("/v1/referrals", params={"updated_since": cut.isoformat()},
                                 headers=net.sender.headers)
        assert {i["id"] for i in r.json()["items"]} == {old, new}
        later = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
        r = await api.client.get("/v1/referrals", params={"updated_since": later},
                                 headers=net.sender.headers)
        assert r.json()["items"] == []

    async def test_keyset_pagination_each_once_under_inserts(self, api: Api,
                                                            net: Network) -> None:
        made = [(await send(api, net))["id"] for _ in range(7)]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3}
            if cursor:
                params["cursor"] = cursor
            r = await api.client.get("/v1/referrals", params=params, headers=net.sender.headers)
            page = r.json()
            seen += [i["id"] for i in page["items"]]
            await send(api, net)  # new rows arrive while paging
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert set(made) <= set(seen)
        assert len(seen) == len(set(seen))

    async def test_overdue_when_reply_by_passed_without_report(self, api: Api,
                                                               net: Network) -> None:
        past = (date.today() - timedelta(days=1)).isoformat()
        note = note_with(communication={"method": "fax", "report_expected": True,
                                        "reply_by": past})
        ref = await send(api, net, note=note)
        assert ref["overdue"] is True
        rid = ref["id"]
        for action, body in (("accept", None),
                             ("schedule", {"appointment_at": "2026-12-20T15:00:00Z"})):
            await act(api, net, rid, action, body)
        await act(api, net, rid, "visits",
                  {"date": date.today().isoformat(), "kind": "initial", "attended": True})
        r = await act(api, net, rid, "reports", {"kind": "interim", "summary": "Seen"})
        assert r.json()["overdue"] is False
