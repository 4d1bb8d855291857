# syntax=docker/dockerfile:1
#
# referral-api container image.
#
#   docker build -t referral-api .
#   docker run --rm -e REFERRAL_API_DATABASE_URL=postgresql://user:pw@host:5432/db referral-api migrate
#   docker run -d -p 8000:8000 -e REFERRAL_API_DATABASE_URL=... referral-api
#
# REFERRAL_API_DATABASE_URL MUST be set for every command run in this image. Without it the
# CLI falls back to starting an "embedded" PostgreSQL + PostGIS cluster in ./.data, which is a
# convenience for developer machines only: this image ships no PostgreSQL server, so that
# fallback fails ("PostgreSQL with PostGIS is not installed ... or set
# REFERRAL_API_DATABASE_URL") and the command exits with status 2. Point it at a PostgreSQL
# database where the postgis and btree_gist extensions can be created (the first migration runs
# CREATE EXTENSION for both), e.g. the postgis/postgis image used in compose.yaml.
# Plain postgresql:// URLs are accepted and driven through asyncpg.

############################################################################################
# builder: resolve and build every wheel from pyproject.toml, install them into /opt/venv
############################################################################################
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build

# Dependencies first (their own layer, reused as long as pyproject.toml does not change).
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
 && pip wheel --wheel-dir /wheels -r requirements.txt

# Then the project itself, as a regular (non-editable) wheel, installed offline from /wheels.
# The runtime never installs anything, so the installer tooling is dropped from the venv.
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels referral-api \
 && /opt/venv/bin/pip uninstall -y setuptools pip \
 && /opt/venv/bin/referral-api --help > /dev/null

############################################################################################
# runtime: the slim interpreter, the prebuilt venv, the migrations; nothing else
############################################################################################
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REFERRAL_API_MIGRATIONS_DIR=/app/migrations
# REFERRAL_API_DATABASE_URL is deliberately not given a default here (see the header):
# supply it at run time, e.g. -e REFERRAL_API_DATABASE_URL=postgresql://referral:...@db:5432/referral

RUN groupadd --gid 10001 referral \
 && useradd --no-log-init --uid 10001 --gid referral --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin referral

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Owned by root and read-only for the service user; `referral-api migrate` finds them through
# REFERRAL_API_MIGRATIONS_DIR.
COPY alembic.ini ./
COPY migrations ./migrations

USER 10001:10001

EXPOSE 8000

# Ready = the database answers and its schema is at the migrations' head (503 otherwise,
# which urlopen raises as HTTPError -> exit 1). slim has no curl, so use the stdlib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["referral-api"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
