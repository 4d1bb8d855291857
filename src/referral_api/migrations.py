"""Alembic, driven from code: `referral-api migrate`, readiness and the tests use this."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from referral_api.config import PROJECT_ROOT

# PostGIS brings tables of its own that are not ours to migrate.
FOREIGN_TABLES = frozenset({"spatial_ref_sys"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Alembic's autogenerate filter, shared by migrations/env.py and the drift test."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def migrations_dir() -> Path:
    """The migrations/ folder: REFERRAL_API_MIGRATIONS_DIR, the checkout, or the cwd."""
    candidates = [
        Path(os.environ["REFERRAL_API_MIGRATIONS_DIR"])
        if os.environ.get("REFERRAL_API_MIGRATIONS_DIR") else None,
        PROJECT_ROOT / "migrations",
        Path.cwd() / "migrations",
        Path("/app/migrations"),
    ]
    for candidate in candidates:
        if candidate is not None and (candidate / "env.py").exists():
            return candidate
    raise RuntimeError(
        "cannot find the migrations/ folder; set REFERRAL_API_MIGRATIONS_DIR"
    )


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    script = ScriptDirectory(str(migrations_dir()))
    return frozenset(script.get_heads())
