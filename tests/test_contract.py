"""The committed OpenAPI contract: in sync with the app, usable by generated clients, and
honoured at run time (schemathesis)."""

from __future__ import annotations

import asyncio
import importlib
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from referral_api.admin import bootstrap_platform_key
from tests.factories import ALL_ORG_SCOPES, next_npi, referral_body
from tests.live import live_server

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "openapi" / "openapi.json"
BIN = Path(sys.executable).parent


def test_committed_spec_matches_app() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        generate = importlib.import_module("generate_openapi")
    finally:
        sys.path.pop(0)
    assert SPEC.read_text() == generate.render(), "run scripts/generate_openapi.py"


def test_operation_ids_are_stable_and_errors_are_problems() -> None:
    spec = json.loads(SPEC.read_text())
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                if int(code) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        method, path, code)
            if "requestBody" in op:
                assert {"400", "413", "422"} <= set(op["responses"]), (method, path)


@pytest.fixture
def server(database_url: str):  # type: ignore[no-untyped-def]
    # Two workers: nothing about idempotency or pagination may live in one process.
    with live_server(database_url, workers=2) as base:
        yield base


def test_generated_python_client_creates_org_and_searches(
    server: str, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "client"
    subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(SPEC),
         "--output-path", str(out), "--meta", "none"],
        check=True, capture_output=True, text=True,
    )
    sys.path.insert(0, str(out.parent))
    try:
        pkg = out.name
        client_mod = importlib.import_module(f"{pkg}")
        create_org = importlib.import_module(f"{pkg}.api.organizations.organizations_create")
        search = importlib.import_module(f"{pkg}.api.directory.providers_search")
        models = importlib.import_module(f"{pkg}.models")
        key = asyncio.run(bootstrap_platform_key(database_url, name="client-test"))
        authed = client_mod.AuthenticatedClient(base_url=server, token=key)
        org = create_org.sync(
            client=authed,
            body=models.OrganizationCreate(name="Generated Client Chiro",
                                           kind=models.OrganizationKind("practice")),
        )
        assert org is not None
        assert org.name == "Generated Client Chiro"
        public = client_mod.Client(base_url=server)
        page = search.sync(client=public, zip_="10001", radius=10)
        assert page is not None
        assert page.items == []
        _referral_round_trip(pkg, client_mod, authed, server)
    finally:
        sys.path.pop(0)
        for name in list(sys.modules):
            if name == out.name or name.startswith(out.name + "."):
                del sys.modules[name]
        shutil.rmtree(out, ignore_errors=True)


def _referral_round_trip(pkg: str, client_mod, platform, server: str) -> None:  # type: ignore[no-untyped-def]
    """Two practices, a provider each, and a referral sent and acknowledged — all
    through the generated client's typed models."""

    def op(group: str, name: str):  # type: ignore[no-untyped-def]
        return importlib.import_module(f"{pkg}.api.{group}.{name}")

    models = importlib.import_module(f"{pkg}.models")
    keys, providers = [], []
    for n, zip_code in enumerate(("10001", "10016")):
        org = op("organizations", "organizations_create").sync(
            client=platform,
            body=models.OrganizationCreate.from_dict({"name": f"Client {n}", "kind": "practice"}))
        key = op("organizations", "api_keys_create").sync(
            client=platform, organization_id=org.id,
            body=models.ApiKeyCreate.from_dict({"name": "k", "scopes": [
                "directory:write", "referrals:read", "referrals:write"]}))
        authed = client_mod.AuthenticatedClient(base_url=server, token=key.api_key)
        loc = op("organizations", "locations_create").sync(
            client=authed, organization_id=org.id,
            body=models.LocationCreate.from_dict({"name": "Main", "address": {
                "line1": "1 Main St", "city": "New York", "state": "NY",
                "postal_code": zip_code}}))
        prov = op("directory", "providers_create").sync(
            client=authed, body=models.ProviderCreate.from_dict({
                "npi": next_npi(), "first_name": "Gen", "last_name": f"Client{n}",
                "specialties": [{"code": "111N00000X"}], "location_ids": [str(loc.id)]}))
        assert isinstance(prov, models.ProviderRead), prov
        keys.append(authed)
        providers.append(prov)
    found = op("directory", "providers_search").sync(client=client_mod.Client(base_url=server),
                                                     zip_="10001", radius=10)
    assert [p.id for p in found.items] == [providers[0].id, providers[1].id]
    assert found.items[0].distance.unit == "mi"
    sent = op("referrals", "referrals_create").sync(
        client=keys[0], idempotency_key="gen-1",
        body=models.ReferralCreate.from_dict(
            referral_body(str(providers[0].id), str(providers[1].id))))
    assert isinstance(sent, models.ReferralRead), sent
    assert sent.completeness.score == 100
    acked = op("referrals", "referrals_acknowledge").sync(client=keys[1], referral_id=sent.id)
    assert acked.status == models.ReferralStatus.ACKNOWLEDGED
    events = op("referrals", "referrals_events").sync(client=keys[0], referral_id=sent.id)
    assert [e.to_status for e in events.items] == [models.ReferralStatus.SENT,
                                                   models.ReferralStatus.ACKNOWLEDGED]
    missing = op("referrals", "referrals_get").sync(client=keys[0], referral_id=uuid.uuid4())
    assert isinstance(missing, models.Problem)
    assert missing.status == 404


async def _practice_admin_key(server: str, platform_key: str) -> str:
    """An all-scopes key of a practice that lists a provider, so fuzzing reaches past
    the permission checks into the directory and referral logic."""
    import httpx

    async with httpx.AsyncClient(base_url=server) as c:
        headers = {"Authorization": f"Bearer {platform_key}"}
        org = (await c.post("/v1/organizations", json={"name": "Fuzz", "kind": "practice"},
                            headers=headers)).json()
        key = (await c.post(f"/v1/organizations/{org['id']}/api-keys", headers=headers,
                            json={"name": "fuzz", "scopes": ALL_ORG_SCOPES})).json()["api_key"]
        mine = {"Authorization": f"Bearer {key}"}
        loc = (await c.post(f"/v1/organizations/{org['id']}/locations", headers=mine, json={
            "name": "Main", "address": {"line1": "1 Main St", "city": "New York",
                                        "state": "NY", "postal_code": "10001"}})).json()
        r = await c.post("/v1/providers", headers=mine, json={
            "npi": next_npi(), "first_name": "Fuzz", "last_name": "Target",
            "specialties": [{"code": "111N00000X"}], "location_ids": [loc["id"]]})
        assert r.status_code == 201, r.text
        return str(key)


@pytest.mark.parametrize("principal", ["platform", "practice_admin"])
def test_schemathesis_finds_no_server_errors_or_schema_violations(
    server: str, database_url: str, principal: str
) -> None:
    key = asyncio.run(bootstrap_platform_key(database_url, name="schemathesis"))
    if principal == "practice_admin":
        key = asyncio.run(_practice_admin_key(server, key))
    result = subprocess.run(
        [str(BIN / "st"), "run", f"{server}/openapi.json",
         "-H", f"Authorization: Bearer {key}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
         "response_schema_conformance,response_headers_conformance",
         "--phases", "examples,coverage,fuzzing", "--max-examples", "25",
         "--workers", "2", "--seed", "1", "--warnings", "off"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:]
