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
