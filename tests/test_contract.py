"""The committed OpenAPI contract: in sync with the app, usable by generated clients, and
honoured at run time (schemathesis)."""

from __future__ import annotations

import asyncio
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from referral_api.admin import bootstrap_platform_key
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
    finally:
        sys.path.pop(0)
        for name in list(sys.modules):
            if name == out.name or name.startswith(out.name + "."):
                del sys.modules[name]
        shutil.rmtree(out, ignore_errors=True)


def test_schemathesis_finds_no_server_errors_or_schema_violations(
    server: str, database_url: str
) -> None:
    key = asyncio.run(bootstrap_platform_key(database_url, name="schemathesis"))
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
