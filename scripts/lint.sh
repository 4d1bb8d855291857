#!/usr/bin/env bash
# ruff, mypy and the committed OpenAPI contract.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests migrations scripts bench
.venv/bin/mypy src
.venv/bin/python scripts/generate_openapi.py --check
