"""The `referral-api` console script: serve, migrate, seed-demo, admin bootstrap."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator

from referral_api.config import get_settings
from referral_api.embedded import EmbeddedClusterError, embedded_database


@contextlib.contextmanager
def database_url() -> Iterator[tuple[str, bool]]:
    """Yield (url, embedded). Without REFERRAL_API_DATABASE_URL the project-local cluster
    is started, brought to the latest migration (it is ours to keep at head), and stopped
    afterwards if we started it."""
    settings = get_settings()
    if settings.database_url:
        yield settings.database_url, False
        return
    from referral_api import migrations

    with embedded_database(settings.data_dir) as url:
        os.environ["REFERRAL_API_DATABASE_URL"] = url
        get_settings.cache_clear()
        migrations.upgrade(url)
        yield url, True


def cmd_migrate(_: argparse.Namespace) -> int:
    from referral_api import migrations

    with database_url() as (url, embedded):
        if not embedded:  # the embedded cluster was migrated on the way in
            migrations.upgrade(url)
    print("migrations at head", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # The workers read the URL that database_url() put in the environment.
    with database_url():
        if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="referral-api-prom-")
        uvicorn.run(
            "referral_api.main:create_app", factory=True, host=args.host, port=args.port,
            workers=args.workers, log_config=None, access_log=False, proxy_headers=True,
            forwarded_allow_ips=args.forwarded_allow_ips,
        )
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from referral_api.demo import seed_demo

    with database_url() as (url, _embedded):
        result = asyncio.run(seed_demo(url, providers=args.providers, attorneys=args.attorneys))
    print(json.dumps(result) if args.json else
          f"demo directory: {result['providers']} providers, {result['attorneys']} attorneys"
          f"{' (already seeded)' if result['already_seeded'] else ''}")
    return 0


def cmd_admin_bootstrap(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import ProgrammingError

    from referral_api.admin import bootstrap_platform_key

    with database_url() as (url, _embedded):
        try:
            key = asyncio.run(bootstrap_platform_key(url, name=args.name))
        except ProgrammingError:
            print("referral-api: the database has no schema yet; run `referral-api migrate` "
                  "first", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps({"api_key": key}))
    else:
        print(f"platform admin API key (shown once): {key}")
    return 0


def cmd_reorder_search_points(_: argparse.Namespace) -> int:
    from referral_api.maintenance import reorder_search_points

    with database_url() as (url, _embedded):
        result = asyncio.run(reorder_search_points(url))
    print(json.dumps(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="referral-api", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database to the latest migration")
    migrate.set_defaults(func=cmd_migrate)

    seed = sub.add_parser("seed-demo", help="load a demo directory (idempotent)")
    seed.add_argument("--providers", type=int, default=360)
    seed.add_argument("--attorneys", type=int, default=60)
    seed.add_argument("--json", action="store_true")
    seed.set_defaults(func=cmd_seed_demo)

    admin = sub.add_parser("admin", help="operator commands")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    boot = admin_sub.add_parser("bootstrap", help="create a platform-admin API key")
    boot.add_argument("--json", action="store_true", help='print {"api_key": "rk_..."}')
    boot.add_argument("--name", default="bootstrap")
    boot.set_defaults(func=cmd_admin_bootstrap)

    maint = sub.add_parser("maintenance", help="operator maintenance tasks")
    maint_sub = maint.add_subparsers(dest="maintenance_command", required=True)
    reorder = maint_sub.add_parser(
        "reorder-search-points",
        help="rewrite the directory's search points in spatial order (faster radius search; "
             "locks them for the duration, run off-peak)")
    reorder.set_defaults(func=cmd_reorder_search_points)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EmbeddedClusterError as exc:
        print(f"referral-api: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

