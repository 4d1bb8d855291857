"""The console script, as a person runs it."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import _admin_url, _create_database, _drop_database

BIN = Path(sys.executable).parent / "referral-api"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REFERRAL_API_")}
    return subprocess.run([str(BIN), *args], env={**clean, **env}, capture_output=True,
                          text=True, timeout=180, check=False)


def test_bootstrap_on_a_fresh_embedded_cluster() -> None:
    data = Path(tempfile.mkdtemp(prefix="referral-api-cli-"))
    os.chmod(data, 0o755)  # the postgres user must reach it when we are root
    try:
        result = _run("admin", "bootstrap", "--json", REFERRAL_API_DATA_DIR=str(data))
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout)["api_key"].startswith("rk_")
        assert (data / "pg" / "PG_VERSION").exists()
        # The command that started the cluster stopped it again.
        assert not (data / "pg" / "postmaster.pid").exists()
        again = _run("admin", "bootstrap", "--json", REFERRAL_API_DATA_DIR=str(data))
        assert again.returncode == 0, again.stderr[-2000:]
        assert json.loads(again.stdout)["api_key"] != json.loads(result.stdout)["api_key"]
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_bootstrap_on_an_unmigrated_database_says_what_to_do(server_url: str) -> None:
    name = f"referral_cli_{secrets.token_hex(4)}"
    asyncio.run(_create_database(server_url, name))
    try:
        result = _run("admin", "bootstrap", "--json",
                      REFERRAL_API_DATABASE_URL=_admin_url(server_url, name))
        assert result.returncode == 2
        assert "referral-api migrate" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        asyncio.run(_drop_database(server_url, name))
