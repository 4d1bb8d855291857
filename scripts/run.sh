#!/usr/bin/env bash
# Quick start: install everything, then serve on 127.0.0.1:8000 against the embedded
# PostgreSQL + PostGIS in .data/ (or REFERRAL_API_DATABASE_URL), migrated and seeded.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/referral-api seed-demo      # migrates the embedded database first; idempotent
exec .venv/bin/referral-api serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" "$@"
