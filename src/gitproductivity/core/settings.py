"""All configuration, read once from `GITPRODUCTIVITY_*` environment variables (or a `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_RETRY_SCHEDULE = (60, 300, 1800, 7200, 86400)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GITPRODUCTIVITY_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./gitproductivity.db"
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    secret_key: SecretStr | None = None
    max_body_bytes: int = 1_048_576
    run_workers_in_server: bool = True
    long_poll_max_wait: float = 60.0  # cap on `GET /v1/events?wait=` (lower it behind a proxy with short timeouts)
    log_level: str = "INFO"

    # Webhook delivery
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = DEFAULT_RETRY_SCHEDULE
    webhook_timeout: float = 30.0

    # E-mail (notifications are sent only when smtp_host is set)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "gitproductivity@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: float = 10.0

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return tuple(float(p) for p in parts)
            except ValueError as exc:
                raise ValueError("must be a comma-separated list of seconds, e.g. 60,300,1800") from exc
        return value

    @field_validator("retry_schedule")
    @classmethod
    def _check_schedule(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(v < 0 for v in value):
            raise ValueError("retry delays must not be negative")
        return value

    @field_validator("webhook_timeout")
    @classmethod
    def _check_timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_overrides: dict[str, object] = {}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(**_overrides)  # type: ignore[arg-type]


def configure(**overrides: object) -> Settings:
    """Replace the process-wide settings (tests and the CLI use this); env vars still fill the rest."""
    _overrides.clear()
    _overrides.update({k: v for k, v in overrides.items() if v is not None})
    get_settings.cache_clear()
    return get_settings()
