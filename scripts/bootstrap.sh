#!/usr/bin/env bash
# Install what the service and its tests need: Python venv support, PostgreSQL + PostGIS
# (Debian packages, installed with apt-get when run as root), and the project in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PACKAGE=${REFERRAL_API_PG_PACKAGE:-postgresql-15-postgis-3}
apt_install() {
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
  else
    echo "missing system packages: $* — install them with: sudo apt-get install -y $*" >&2
    exit 1
  fi
}

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' || {
  echo "Python 3.11 or newer is needed (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }

if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  apt_install "$PG_PACKAGE"
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
    apt_install python3-venv
  fi
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
