"""Settings, read from ``SHUTDOWN_*`` environment variables.

Precedence: arguments to :class:`ShutdownSettings` > environment > defaults.
No ``.env`` file is read implicitly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Seconds = float


class ShutdownSettings(BaseSettings):
    """Everything an operator may tune without touching code.

    >>> settings = ShutdownSettings(admin_token="s3cret", drain_deadline=20)
    >>> settings.drain_deadline
    20.0
    """

    model_config = SettingsConfigDict(
        env_prefix="SHUTDOWN_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token the /admin/* routes require."
    )

    allow_insecure_admin: bool = Field(
        default=False,
        description="Serve /admin/* without a token (local development only; logs a warning).",
    )
    drain_deadline: Seconds = Field(
        default=30.0, gt=0, le=3600, description="Bound on waiting for requests and work."
    )
    pre_drain_delay: Seconds = Field(
        default=0.0,
        ge=0,
        le=300,
        description="Time listeners stay open answering 503 after readiness fails, so load "
        "balancers and Kubernetes endpoints stop sending traffic first.",
    )
    hook_timeout: Seconds = Field(default=5.0, gt=0, le=600, description="Bound on each hook.")
    save_timeout: Seconds = Field(
        default=15.0, gt=0, le=600, description="Bound on writing one snapshot, retries included."
    )
    state_store: str = Field(
        default=".state",
        description="Where snapshots go: a redis:// URL, or a directory for the file store.",
    )
    state_fallback_dir: str = Field(
        default=".state",
        description="Directory the Redis store falls back to when Redis fails during a save.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for lifecycle events and sharing pause across worker processes.",
    )
    key_prefix: str = Field(default="shutdown-sdk", min_length=1)
    events_stream: str = Field(default="shutdown-sdk:events", min_length=1)
    fail_on_restore_error: bool = Field(
        default=True,
        description="Refuse to start when saved state cannot be restored (safer than "
        "trading with forgotten positions; the orchestrator then rolls back the snapshot).",
    )
    restore_paused: bool = Field(
        default=True, description="Start paused when the service was paused when it stopped."
    )
    exit_signal_target: Literal["auto", "self", "parent"] = Field(
        default="auto",
        description="Which process is signalled to exit: 'parent' for a multi-worker "
        "server's supervisor (auto-detected for uvicorn --workers, gunicorn, hypercorn).",
    )
    retry_after: int = Field(default=5, ge=0, le=3600, description="Retry-After on 503s.")

    @field_validator("admin_token", mode="before")
    @classmethod
    def _blank_token_is_no_token(cls, value: object) -> object:
        """``SHUTDOWN_ADMIN_TOKEN=`` (an empty template value) means "no token": the admin
        API then says it is disabled instead of refusing every token with a 403.

        >>> ShutdownSettings(admin_token="  ").admin_token is None
        True
        """
        secret = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(secret, str) and not secret.strip():
            return None
        return value
