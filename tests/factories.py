"""Small async factories that go through the public API, as a client would."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from referral_api.admin import bootstrap_platform_key

_npi_counter = itertools.count(1)


def npi_with_check_digit(base9: str) -> str:
    """Append the Luhn check digit computed over 80840 + the 9 digits."""
    digits = "80840" + base9
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return base9 + str((10 - total % 10) % 10)


def next_npi() -> str:
    return npi_with_check_digit(f"1{next(_npi_counter) + random.randrange(10**7):08d}"[:9])


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ALL_ORG_SCOPES = [
    "directory:read", "directory:write", "referrals:read", "referrals:write", "lop:read",
    "lop:write", "metrics:read", "org:admin", "webhooks:manage",
]


@dataclass
class Org:
    id: str
    key: str
    body: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.key)


@dataclass
class Api:
    client: httpx.AsyncClient
    platform_key: str
    _bar: itertools.count = field(default_factory=lambda: itertools.count(1000))  # type: ignore[type-arg]

    @classmethod
    async def bootstrap(cls, client: httpx.AsyncClient, database_url: str) -> Api:
        key = await bootstrap_platform_key(database_url, name="tests")
        return cls(client, key)

    @property
    def platform(self) -> dict[str, str]:
        return bearer(self.platform_key)

    async def org(self, kind: str = "practice", name: str | None = None,
                  scopes: list[str] | None = None, **extra: Any) -> Org:
        r = await self.client.post(
            "/v1/organizations",
            json={"name": name or f"{kind} {random.randrange(10**6)}", "kind": kind, **extra},
            headers=self.platform,
        )
        assert r.status_code == 201, r.text
        org = r.json()
        r = await self.client.post(
            f"/v1/organizations/{org['id']}/api-keys",
            json={"name": "test", "scopes": scopes or ALL_ORG_SCOPES},
            headers=self.platform,
        )
        assert r.status_code == 201, r.text
        return Org(org["id"], r.json()["api_key"], org)

    async def location(self, org: Org, lat: float | None = None, lon: float | None = None,
                       postal_code: str = "10001", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": extra.pop("name", "Main office"),
            "address": {"line1": "1 Main St", "city": "Somewhere", "state": "NY",
                        "postal_code": postal_code},
            **extra,
        }
        if lat is not None:
            body |= {"lat": lat, "lon": lon}
        r = await self.client.post(f"/v1/organizations/{org.id}/locations", json=body,
                                   headers=org.headers)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def provider(self, org: Org, location_ids: list[str], **overrides: Any
                       ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "npi": next_npi(),
            "first_name": "Pat",
            "last_name": "Doe",
            "specialties": [{"code": "111N00000X", "primary": True}],
            "location_ids": location_ids,
            **overrides,
        }
        r = await self.client.post("/v1/providers", json=body, headers=org.headers)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def attorney(self, org: Org, location_ids: list[str], **overrides: Any
                       ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "first_name": "Sam",
            "last_name": "Counsel",
            "bar_number": f"B{next(self._bar)}{random.randrange(10**6)}",
            "bar_state": "NY",
            "practice_areas": ["personal_injury"],
            "location_ids": location_ids,
            **overrides,
        }
        r = await self.client.post("/v1/attorneys", json=body, headers=org.headers)
        assert r.status_code == 201, r.text
        return dict(r.json())


def referral_body(from_provider_id: str, to_provider_id: str, **overrides: Any
                  ) -> dict[str, Any]:
    """A complete referral (all seven note elements present)."""
    body: dict[str, Any] = {
        "from_provider_id": from_provider_id,
        "to_provider_id": to_provider_id,
        "urgency": "routine",
        "case_type": "personal_injury",
        "patient": {"first_name": "Maria", "last_name": "Lopez", "birth_date": "1984-03-09",
                    "phone": "+1 212 555 0100"},
        "note": {
            "chief_complaint": "Neck pain and stiffness after a rear-end collision",
            "mechanism_of_injury": "Rear-end motor vehicle collision at a stop light",
            "onset_date": "2026-10-02",
            "diagnosis_codes": ["S13.4XXA", "M5412"],
            "clinical_impression": "Cervical sprain with right C6 radicular symptoms",
            "care_to_date": "6 chiropractic visits, home exercise",
            "response_to_care": "Pain 7/10 to 5/10, radicular symptoms persist",
            "clinical_question": "Is she a candidate for a cervical epidural steroid injection?",
            "precautions": "Anticoagulated (apixaban)",
            "communication": {"method": "fax", "report_expected": True,
                              "reply_by": "2026-12-31"},
        },
        "attestation": {"no_remuneration": True},
    }
    body.update(overrides)
    return body


@dataclass
class Network:
    """A sending practice and a receiving practice, each with a provider."""

    sender: Org
    receiver: Org
    from_provider: dict[str, Any]
    to_provider: dict[str, Any]

    def body(self, **overrides: Any) -> dict[str, Any]:
        body = referral_body(self.from_provider["id"], self.to_provider["id"])
        body.update(overrides)
        return body


async def network(api: Api) -> Network:
    sender, receiver = await api.org(name="Sender Chiro"), await api.org(name="Receiver Pain")
    ls, lr = await api.location(sender), await api.location(receiver)
    fp = await api.provider(sender, [ls["id"]])
    tp = await api.provider(receiver, [lr["id"]],
                            specialties=[{"code": "208VP0014X", "primary": True}])
    return Network(sender, receiver, fp, tp)
