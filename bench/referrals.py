"""Referral-creation benchmark: POST /v1/referrals through the API vs the same inserts raw.

Starts a throwaway PostgreSQL + PostGIS cluster, migrates it, creates two practices with
providers through the API, then measures in one run, at the same concurrency:

  api  POST /v1/referrals with a fresh Idempotency-Key per request (wrk, 16 connections)
       against `referral-api serve --workers 2`;
  raw  the rows that one successful create writes — patient, referral, its "create"
       event, the audit entry and the idempotency record — inserted in one transaction
       per referral through asyncpg, 16 connections.

Prints requests/s and p50/p95/p99 of both and the ratio api/raw.
Run:  .venv/bin/python bench/referrals.py [--duration 15] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.factories import next_npi, referral_body  # noqa: E402
from tests.live import live_server  # noqa: E402

from referral_api import migrations  # noqa: E402
from referral_api.admin import bootstrap_platform_key  # noqa: E402
from referral_api.embedded import EmbeddedCluster  # noqa: E402
from referral_api.referrals.clinical import completeness  # noqa: E402

WRK_LUA = r"""
local counter = 0
local body = [[%(body)s]]
local auth = "%(auth)s"
function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end
function request()
  counter = counter + 1
  local headers = {}
  headers["Authorization"] = auth
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = tid .. "-" .. counter
  return wrk.format("POST", "/v1/referrals", headers, body)
end
function response(status, headers, body)
  if status ~= 201 then
    bad = (bad or 0) + 1
    if bad < 3 then print("unexpected status " .. status .. ": " .. body) end
  end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%f %%f %%d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def fmt(name: str, rps: float, p50: float, p95: float, p99: float) -> str:
    return (f"{name:<5} {rps:9.1f} req/s   p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   "
            f"p99 {p99:7.2f} ms")


async def setup_network(base: str, url: str) -> tuple[str, dict[str, Any]]:
    key = await bootstrap_platform_key(url, name="bench")
    platform = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        orgs = []
        for name in ("Bench Sender Chiro", "Bench Receiver Pain"):
            org = (await c.post("/v1/organizations", json={"name": name, "kind": "practice"},
                                headers=platform)).json()
            k = (await c.post(f"/v1/organizations/{org['id']}/api-keys",
                              json={"name": "bench", "scopes": ["directory:write",
                                                                 "referrals:write",
                                                                 "referrals:read"]},
                              headers=platform)).json()["api_key"]
            h = {"Authorization": f"Bearer {k}"}
            loc = (await c.post(f"/v1/organizations/{org['id']}/locations",
                                json={"name": "Main", "address": {
                                    "line1": "1 Main St", "city": "New York", "state": "NY",
                                    "postal_code": "10001"}}, headers=h)).json()
            prov = (await c.post("/v1/providers", json={
                "npi": next_npi(), "first_name": "Bench", "last_name": name.split()[1],
                "specialties": [{"code": "111N00000X"}], "location_ids": [loc["id"]]},
                headers=h)).json()
            orgs.append((org, h, prov))
        (sender, sh, sp), (_, _, rp) = orgs
        body = referral_body(sp["id"], rp["id"])
        return sh["Authorization"], {"body": body, "sender": sender, "from": sp, "to": rp}


def run_wrk(base: str, auth: str, body: dict[str, Any], connections: int,
            duration: float) -> tuple[float, float, float, float, int]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_LUA % {"body": json.dumps(body), "auth": auth})
    try:
        out = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{int(duration)}s", "--latency",
             "-s", str(script), base],
            capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
        stdout = out.stdout
    finally:
        script.unlink()
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    n, secs, p50, p95, p99, errors = line.split()[1:]
    return int(n) / float(secs), float(p50), float(p95), float(p99), int(errors)


async def raw_inserts(url: str, ctx: dict[str, Any], connections: int,
                      duration: float) -> tuple[float, float, float, float, int]:
    """The rows one create writes, one transaction per referral, like the service."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    body = ctx["body"]
    score, missing = completeness(body["patient"], body["note"])
    sender, from_p, to_p = ctx["sender"]["id"], ctx["from"]["id"], ctx["to"]
    note = json.dumps(body["note"])
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections,
                                     server_settings={"jit": "off"})
    latencies: list[float] = []
    stop = time.perf_counter() + duration

    async def worker() -> None:
        async with pool.acquire() as conn:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                rid, pid = uuid.uuid4(), uuid.uuid4()
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO patients (id, organization_id, first_name, last_name, "
                        "birth_date, phone, created_at, updated_at) "
                        "VALUES ($1, $2, 'Maria', 'Lopez', '1984-03-09', '+1 212 555 0100', "
                        "now(), now())", pid, uuid.UUID(sender))
                    await conn.execute(
                        "INSERT INTO referrals (id, sender_organization_id, "
                        "receiver_organization_id, from_provider_id, to_provider_id, "
                        "patient_id, urgency, case_type, note, diagnosis_codes, "
                        "no_remuneration, attested_by, attested_at, completeness_score, "
                        "completeness_missing, status, reply_by, sent_at, created_at, "
                        "updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, 'routine', "
                        "'personal_injury', $7::jsonb, $8, true, 'api_key:bench', now(), $9, "
                        "$10, 'sent', '2026-12-31', now(), now(), now(), 1)",
                        rid, uuid.UUID(sender), uuid.UUID(to_p["organization_id"]),
                        uuid.UUID(from_p), uuid.UUID(to_p["id"]), pid, note,
                        ["S13.4XXA", "M54.12"], score, missing)
                    await conn.execute(
                        "INSERT INTO referral_events (referral_id, at, action, to_status, "
                        "actor, actor_organization_id, data) VALUES ($1, now(), 'create', "
                        "'sent', 'api_key:bench', $2, '{}'::jsonb)", rid, uuid.UUID(sender))
                    await conn.execute(
                        "INSERT INTO audit_events (at, principal, organization_id, "
                        "subject_organization_ids, action, referral_id, patient_id, outcome) "
                        "VALUES (now(), 'api_key:bench', $1, $2, 'referral.create', $3, $4, "
                        "'success')", uuid.UUID(sender),
                        [uuid.UUID(sender), uuid.UUID(to_p["organization_id"])], rid, pid)
                    await conn.execute(
                        "INSERT INTO idempotency_records (principal, key, request_hash, "
                        "status_code, response_body, response_headers, created_at) VALUES "
                        "('api_key:bench', $1, 'h', 201, $2::jsonb, '{}'::jsonb, now())",
                        str(rid), note)
                latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(connections)])
    elapsed = time.perf_counter() - started
    await pool.close()
    return (len(latencies) / elapsed, percentile(latencies, 50), percentile(latencies, 95),
            percentile(latencies, 99), 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="referral-bench-"))
    os.chmod(tmp, 0o755)
    cluster = EmbeddedCluster(tmp / "cluster", server_options={"max_connections": "200"})
    try:
        url = cluster.start()
        migrations.upgrade(url)
        with live_server(url, workers=2) as base:
            auth, ctx = asyncio.run(setup_network(base, url))
            # warm both paths so neither pays for first-use costs
            run_wrk(base, auth, ctx["body"], args.connections, 2)
            api = run_wrk(base, auth, ctx["body"], args.connections, args.duration)
        asyncio.run(raw_inserts(url, ctx, args.connections, 2))
        raw = asyncio.run(raw_inserts(url, ctx, args.connections, args.duration))
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"referral creation, {args.connections} concurrent clients, {args.duration:.0f} s each")
    print(fmt("api", *api[:4]) + (f"   non-201: {api[4]}" if api[4] else ""))
    print(fmt("raw", *raw[:4]))
    print(f"ratio api/raw throughput: {api[0] / raw[0]:.2f}")
    return 0 if api[4] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
