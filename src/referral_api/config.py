"""Settings read from the environment (prefix ``REFERRAL_API_``)."""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_API_", extra="ignore")

    # When unset, the CLI starts a project-local PostgreSQL + PostGIS cluster in data_dir.
    database_url: str | None = None
    data_dir: Path = Path(".data")
    pool_size: int = 10
    max_overflow: int = 10
    # Requests whose body is larger than this get 413 before the body is read in full.
    max_body_bytes: int = 1_048_576
    idempotency_ttl_hours: int = 24
    log_level: str = "INFO"
    # Origins allowed to call the API from a browser (SPA frontends), comma-separated;
    # empty means no CORS headers at all.
    cors_origins: str = ""
    cursor_secret: str | None = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
