"""All configuration, read once from `GITPRODUCTIVITY_*` environment variables (or a `.env` file)."""

from __future__ import annotations

import ipaddress
import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gitproductivity.core.bounds import MAX_SECRET_OVERLAP_SECONDS

#: Upper bounds of the settings counted in seconds and in days (finite, and far from any overflow).
MAX_SETTING_SECONDS = 365 * 86400
MAX_SETTING_DAYS = 36500

DEFAULT_RETRY_SCHEDULE = (60, 300, 1800, 7200, 86400)
MAX_EXCLUDE_GLOBS = 200
#: Upper bounds of the rate limits (per minute, and bucket sizes) and of concurrency and batch sizes.
MAX_RATE = 1_000_000
MAX_SIGN_IN_RATE = 10_000
MAX_CONCURRENCY = 10_000
MAX_BOT_PATTERNS = 100


class Settings(BaseSettings):
    # allow_inf_nan=False: every number of seconds or rate is finite (`inf` or `nan` stops start-up with its name).
    model_config = SettingsConfigDict(
        env_prefix="GITPRODUCTIVITY_", env_file=".env", extra="ignore", allow_inf_nan=False
    )

    database_url: str = "sqlite:///./gitproductivity.db"
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    secret_key: SecretStr | None = None
    #: Encrypts webhook endpoints' credentials at rest (webhooks.credentials); falls back to `secret_key`.
    webhook_credentials_key: SecretStr | None = None
    #: Largest request body (bytes, 1 KiB to 1 GiB); larger ones get 413.
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=1 << 30)
    run_workers_in_server: bool = True
    #: Cap on `GET /v1/events?wait=` (lower it behind a proxy with short timeouts).
    long_poll_max_wait: float = Field(default=60.0, ge=0)
    log_level: str = "INFO"
    #: Requests per minute per API key (token bucket refill) and the bucket size; 0 turns the limit off.
    rate_limit_per_minute: float = Field(default=1200.0, le=MAX_RATE)
    rate_limit_burst: int = Field(default=600, le=MAX_RATE)
    #: Failed sign-ins per minute per client address, and how many may come at once; 0 turns the limit off.
    sign_in_rate_limit_per_minute: float = Field(default=5.0, le=MAX_SIGN_IN_RATE)
    sign_in_rate_limit_burst: int = Field(default=10, le=MAX_SIGN_IN_RATE)
    #: Web sessions end this long after sign-in, or after this long without a request (seconds; server-side).
    session_max_age: float = Field(default=14 * 86400.0, ge=60, le=366 * 86400)
    session_idle_timeout: float = Field(default=3 * 86400.0, ge=60, le=366 * 86400)
    #: Slow clients: a request's headers must arrive within this many seconds of the connection (or of the
    #: previous response), its body within this many after the headers; connections over the cap get a 503.
    http_header_timeout: float = Field(default=10.0, gt=0, le=3600)
    http_body_timeout: float = Field(default=30.0, gt=0, le=3600)
    http_max_connections: int = Field(default=1000, ge=1, le=100_000)

    # Webhook delivery
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = DEFAULT_RETRY_SCHEDULE
    webhook_timeout: float = 30.0
    #: A claimed delivery is taken again by any worker once its lease runs out (a crashed worker's work).
    webhook_lease_seconds: float = 90.0
    #: POSTs in flight per worker process, per endpoint, and deliveries claimed at once (1 to 10,000 each).
    webhook_concurrency: int = Field(default=256, le=MAX_CONCURRENCY)
    webhook_endpoint_concurrency: int = Field(default=64, le=MAX_CONCURRENCY)
    webhook_batch_size: int = Field(default=256, le=MAX_CONCURRENCY)
    #: Destination guard: loopback/private/link-local/multicast/reserved addresses are refused unless allowed.
    webhook_allow_private_destinations: bool = False
    webhook_allowed_networks: Annotated[tuple[str, ...], NoDecode] = ()
    #: Disable an endpoint whose deliveries have all failed for this long (seconds; 0 turns the rule off).
    webhook_auto_disable_after: float = 5 * 86400.0
    webhook_secret_overlap: float = 86400.0
    webhook_attempt_retention_days: float = 30.0
    #: Send every delivery through this HTTP proxy (`http://[user:password@]host:port`; CONNECT for https
    #: destinations, plain forwarding for http), e.g. smokescreen; see docs/security.md for the guard's rules.
    webhook_proxy: SecretStr | None = None
    #: Delete finished deliveries and events older than this (days; 0 keeps them forever; see events.retention).
    event_retention_days: float = 0.0

    # Observability (docs/observability.md): `/metrics` on or off, and the bearer token it asks for when set.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None

    # E-mail (notifications are sent only when smtp_host is set)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "gitproductivity@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0)

    # Git analysis (see docs/metrics.md for what these change)
    analysis_recheck_interval: float = 3600.0  # seconds between scheduled re-checks of each repository; 0 = never
    analysis_poll_interval: float = 5.0  # how often idle analysis workers look for jobs (besides wake-ups)
    analysis_lease: float = 300.0  # a running job whose worker stopped renewing this long ago is taken again
    analysis_concurrency: int = Field(default=1, le=64)  # analyses run at once by one worker process (1 to 64)
    analysis_shards: int = Field(default=0, le=256)  # git processes per analysis (0 to 256); 0 = one per CPU core
    #: Fewer commits than this per shard are read by one process (1 to 10,000,000).
    analysis_min_shard: int = Field(default=2000, le=10_000_000)
    analysis_first_parent: bool = False  # count only the default branch's first-parent chain
    #: After a failed analysis the schedule waits this long before trying the repository again, doubling with
    #: each failure in a row up to the re-check interval (seconds, 1 to 604800).
    analysis_failure_backoff: float = 300.0
    #: CPU priority of the analysis child process and its git processes (0-19, as `nice`; 0 = the server's own).
    #: 0 by default: a niced child storing its results holds SQLite's write lock longer on a busy machine.
    analysis_nice: int = 0
    bot_patterns: Annotated[tuple[str, ...], NoDecode] = ()  # extra regexes, besides the built-in bot list
    exclude_globs: Annotated[tuple[str, ...], NoDecode] = ()  # extra paths excluded from lines, gitignore-style
    ownership: bool = True  # compute ownership (git blame at the head) in every analysis
    languages_hours: bool = True  # count lines per language and commits per hour of the week (docs/metrics.md)
    ownership_ignore_revs: bool = True  # honour the head's .git-blame-ignore-revs when computing ownership
    # New work / refactor / rework / help others per commit (git blame of the parent's lines): a full read of a
    # 20k-commit history took 2.2x as long with them (docs/benchmarks.md). Co-authors are counted either way.
    change_categories: bool = True
    #: A deleted line younger than this (days, 1 to 3650) is rework or help to others; older, refactoring.
    churn_window_days: int = Field(default=21, ge=1, le=3650)
    categories_ignore_revs: bool = True  # commits in the head's .git-blame-ignore-revs count no change categories
    categories_since: bool = True  # blame stops at the churn window (--since); off: every line followed to its origin
    #: Blame local repositories through a private commit-graph under the data directory (never written into them).
    categories_commit_graph: bool = True
    git_timeout: float = 600.0  # seconds any single git command may run
    git_allowed_protocols: Annotated[tuple[str, ...], NoDecode] = ("https", "ssh")
    #: When set, local repositories (paths and file://) must lie under one of these directories.
    git_allowed_roots: Annotated[tuple[str, ...], NoDecode] = ()
    #: Destination guard for remote repositories (the webhook rules, core.netguard): git may reach only public
    #: addresses unless private ones are allowed, or the address lies in one of these networks.
    git_allow_private_destinations: bool = False
    git_allowed_networks: Annotated[tuple[str, ...], NoDecode] = ()

    # Worker liveness (core.workers): how often each dispatcher and analysis worker writes its heartbeat, and
    # how long without one before other workers presume it dead and retake what it held (instead of waiting
    # for the leases). Seconds; the stall threshold must cover at least two intervals.
    worker_heartbeat_interval: float = 5.0
    worker_stall_after: float = 15.0

    @field_validator("bot_patterns", "exclude_globs", "git_allowed_protocols", "git_allowed_roots", mode="before")
    @classmethod
    def _parse_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("bot_patterns")
    @classmethod
    def _check_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Matched against names from repositories, so only what runs in linear time (`core.saferegex`)."""
        from gitproductivity.core.saferegex import SafeRegex

        if len(value) > MAX_BOT_PATTERNS:
            raise ValueError(f"at most {MAX_BOT_PATTERNS} patterns")
        for pattern in value:
            try:
                SafeRegex(pattern)
            except ValueError as exc:
                raise ValueError(f"{pattern[:80]!r} is not a usable regular expression: {exc}") from None
        return value

    @field_validator("analysis_nice")
    @classmethod
    def _check_nice(cls, value: int) -> int:
        if not 0 <= value <= 19:
            raise ValueError("must be between 0 and 19")
        return value

    @field_validator("exclude_globs")
    @classmethod
    def _check_globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Bounded (every path of every commit is checked against each) and well-formed, as git reads them."""
        from gitproductivity.core import wildmatch

        if len(value) > MAX_EXCLUDE_GLOBS:
            raise ValueError(f"at most {MAX_EXCLUDE_GLOBS} patterns")
        for pattern in value:
            try:
                wildmatch.Pattern.parse(pattern)
            except ValueError as exc:
                raise ValueError(f"{pattern[:80]!r} is not a usable pattern: {exc}") from None
        return value

    @field_validator("git_allowed_protocols")
    @classmethod
    def _check_protocols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = {"ext", "fd"} & {p.lower() for p in value}
        if refused:
            raise ValueError(f"{', '.join(sorted(refused))} must never be allowed (they run commands)")
        return value

    @field_validator("git_allowed_roots")
    @classmethod
    def _check_roots(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        relative = [r for r in value if not Path(r).expanduser().is_absolute()]
        if relative:
            raise ValueError(f"allowed roots must be absolute paths, not {', '.join(relative)}")
        return tuple(str(Path(r).expanduser()) for r in value)

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

    @field_validator(
        "webhook_timeout",
        "webhook_lease_seconds",
        "webhook_attempt_retention_days",
        "git_timeout",
        "analysis_lease",
        "analysis_poll_interval",
    )
    @classmethod
    def _check_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @field_validator(
        "webhook_concurrency",
        "webhook_endpoint_concurrency",
        "webhook_batch_size",
        "analysis_concurrency",
        "analysis_min_shard",
        "rate_limit_burst",
        "sign_in_rate_limit_burst",
    )
    @classmethod
    def _check_at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator(
        "webhook_auto_disable_after",
        "webhook_secret_overlap",
        "analysis_shards",
        "analysis_recheck_interval",
        "rate_limit_per_minute",
        "sign_in_rate_limit_per_minute",
        "event_retention_days",
    )
    @classmethod
    def _check_not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("analysis_failure_backoff")
    @classmethod
    def _check_backoff(cls, value: float) -> float:
        if not 1 <= value <= 604_800:
            raise ValueError("must be between 1 and 604800 seconds (a week)")
        return value

    @field_validator("webhook_secret_overlap")
    @classmethod
    def _check_overlap(cls, value: float) -> float:
        if value > MAX_SECRET_OVERLAP_SECONDS:
            raise ValueError(f"must be at most {MAX_SECRET_OVERLAP_SECONDS} seconds (30 days)")
        return value

    @field_validator(
        "long_poll_max_wait",
        "webhook_timeout",
        "webhook_lease_seconds",
        "webhook_auto_disable_after",
        "smtp_timeout",
        "analysis_recheck_interval",
        "analysis_poll_interval",
        "analysis_lease",
        "git_timeout",
    )
    @classmethod
    def _check_seconds_bound(cls, value: float) -> float:
        # Past a year no timeout or interval means anything; far past it, timers and date arithmetic overflow.
        if value > MAX_SETTING_SECONDS:
            raise ValueError(f"must be at most {MAX_SETTING_SECONDS} seconds (365 days)")
        return value

    @field_validator("retry_schedule")
    @classmethod
    def _check_schedule_bound(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(v > MAX_SETTING_SECONDS for v in value):
            raise ValueError(f"each retry delay must be at most {MAX_SETTING_SECONDS} seconds (365 days)")
        return value

    @field_validator("webhook_attempt_retention_days", "event_retention_days")
    @classmethod
    def _check_days_bound(cls, value: float) -> float:
        if value > MAX_SETTING_DAYS:
            raise ValueError(f"must be at most {MAX_SETTING_DAYS} days")
        return value

    @field_validator("port", "smtp_port")
    @classmethod
    def _check_port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("must be a TCP port, 1 to 65535")
        return value

    @field_validator("webhook_allowed_networks", "git_allowed_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        if isinstance(value, list | tuple):
            try:
                return tuple(str(ipaddress.ip_network(str(v), strict=False)) for v in value)
            except ValueError as exc:
                raise ValueError(f"must be comma-separated networks, e.g. 10.0.0.0/8,127.0.0.1/32 ({exc})") from exc
        return value

    @field_validator("webhook_proxy", mode="before")
    @classmethod
    def _check_proxy(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            if not value.strip():
                return None
            from gitproductivity.core.proxyurl import parse_proxy

            parse_proxy(value)  # raises ValueError in words (never quoting the credentials)
        return value

    @field_validator("worker_heartbeat_interval", "worker_stall_after")
    @classmethod
    def _check_worker_seconds(cls, value: float) -> float:
        if not math.isfinite(value) or not 0.05 <= value <= 86400:
            raise ValueError("must be between 0.05 and 86400 seconds")
        return value

    @model_validator(mode="after")
    def _stall_covers_two_beats(self) -> Settings:
        if self.worker_stall_after < 2 * self.worker_heartbeat_interval:
            raise ValueError(
                "worker_stall_after must be at least twice worker_heartbeat_interval (a late beat is not a death)"
            )
        return self

    @model_validator(mode="after")
    def _lease_outlives_timeout(self) -> Settings:
        if self.webhook_lease_seconds <= self.webhook_timeout:
            raise ValueError("webhook_lease_seconds must be longer than webhook_timeout (a lease covers one POST)")
        return self

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
