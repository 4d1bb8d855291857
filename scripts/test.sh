#!/usr/bin/env bash
# The whole test suite against a throwaway PostgreSQL + PostGIS that the harness starts
# (or the server in REFERRAL_API_TEST_DATABASE_URL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/pytest "$@"
