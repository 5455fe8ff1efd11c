"""Redis: answers PING, memory below a share of ``maxmemory``, expected replication role.

    [[checks]]
    kind = "redis"
    name = "redis"
    url = "redis://127.0.0.1:6379/0"
    max_memory_percent = 90      # of maxmemory; maxmemory 0 (unlimited) passes
    role = "master"              # optional

Figures in ``details``: ``latency_ms``, ``used_memory``, ``maxmemory``,
``memory_percent`` (absent when unlimited), ``role``.
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

import redis.asyncio as aioredis
from pydantic import Field

from restart_orchestrator.checks.base import Check, CheckConfig, CheckResult
from restart_orchestrator.checks.timing import bounded, elapsed_ms, latency_problem


class RedisCheckConfig(CheckConfig):
    kind: Literal["redis"] = "redis"
    url: str = "redis://127.0.0.1:6379/0"
    max_memory_percent: float = Field(default=90.0, gt=0, le=100)
    max_latency_ms: float | None = Field(default=None, gt=0)
    role: Literal["master", "slave", "replica"] | None = Field(
        default=None, description="Expected role (INFO replication); replica = slave."
    )
    password_env: str | None = Field(
        default=None, description="Environment variable holding the password (keeps it out of url)."
    )


class RedisCheck(Check):
    """PING, INFO memory, INFO replication over one connection."""

    kind = "redis"
    config_model = RedisCheckConfig
    config: RedisCheckConfig

    async def run(self) -> CheckResult:
        return await bounded(self.kind, self.config, self._inspect)

    async def _inspect(self, details: dict[str, Any]) -> str | None:
        secret: dict[str, Any] = {}
        if self.config.password_env is not None:
            password = os.environ.get(self.config.password_env)
            if not password:
                return f"environment variable {self.config.password_env} (password) is not set"
            secret["password"] = password
        client = aioredis.Redis.from_url(
            self.config.url,
            socket_connect_timeout=self.config.timeout_s,
            socket_timeout=self.config.timeout_s,
            **secret,
        )
        try:
            started = time.monotonic()
            try:
                await client.ping()
            except aioredis.RedisError as exc:
                return f"no PING answer from {_safe_url(self.config.url)}: {exc}"
            details["latency_ms"] = elapsed_ms(started)
            memory = await client.info("memory")
            replication = await client.info("replication")
        finally:
            await client.aclose()
        used, limit = int(memory["used_memory"]), int(memory.get("maxmemory", 0))
        details.update(used_memory=used, maxmemory=limit, role=str(replication["role"]))
        problems = []
        if limit > 0:
            percent = round(used * 100 / limit, 2)
            details["memory_percent"] = percent
            if percent > self.config.max_memory_percent:
                problems.append(
                    f"memory {percent:.1f}% of maxmemory ({used} of {limit} bytes) "
                    f"> {self.config.max_memory_percent:g}%"
                )
        expected = "slave" if self.config.role == "replica" else self.config.role
        if expected is not None and details["role"] != expected:
            problems.append(f"role {details['role']}, expected {self.config.role}")
        if slow := latency_problem(details["latency_ms"], self.config.max_latency_ms):
            problems.append(slow)
        return "; ".join(problems) or None


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"
