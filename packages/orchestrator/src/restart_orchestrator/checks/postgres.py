"""PostgreSQL: connects, runs a query, free disk of a local path, optional database size.

    [[checks]]
    kind = "postgres"
    name = "postgres"
    dsn = "postgresql://trading@127.0.0.1:5432/trading"
    query = "SELECT 1"
    disk_path = "/var/lib/postgresql"   # local path: the data directory's filesystem
    min_free_percent = 15
    min_free_bytes = "20GiB"
    max_database_bytes = "500GiB"       # optional; reports pg_database_size either way when set

Needs the ``postgres`` extra (``pip install restart-orchestrator[postgres]``).
Figures in ``details``: ``connect_ms``, ``query_ms``, ``disk_free_bytes``,
``disk_total_bytes``, ``disk_free_percent``, ``database_bytes``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from typing import Any, Literal

from pydantic import ByteSize, Field

from restart_orchestrator.checks.base import Check, CheckConfig, CheckResult
from restart_orchestrator.checks.timing import bounded, elapsed_ms


class PostgresCheckConfig(CheckConfig):
    kind: Literal["postgres"] = "postgres"
    dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    password_env: str | None = Field(
        default=None, description="Environment variable holding the password (else libpq's own)."
    )
    query: str = "SELECT 1"
    disk_path: str | None = Field(
        default=None, description="Local path whose filesystem's free space is checked."
    )
    min_free_bytes: ByteSize | None = None
    min_free_percent: float | None = Field(default=None, ge=0, le=100)
    database_size: bool = Field(default=False, description="Report pg_database_size().")
    max_database_bytes: ByteSize | None = None


class PostgresCheck(Check):
    """One connection, one query, plus local disk figures."""

    kind = "postgres"
    config_model = PostgresCheckConfig
    config: PostgresCheckConfig

    async def run(self) -> CheckResult:
        return await bounded(self.kind, self.config, self._inspect)

    async def _inspect(self, details: dict[str, Any]) -> str | None:
        try:
            import psycopg
        except ImportError:
            return "the postgres check needs psycopg: pip install 'restart-orchestrator[postgres]'"
        secret: dict[str, Any] = {}
        if self.config.password_env is not None:
            password = os.environ.get(self.config.password_env)
            if not password:
                return f"environment variable {self.config.password_env} (password) is not set"
            secret["password"] = password
        problems: list[str] = []
        started = time.monotonic()
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.config.dsn,
                connect_timeout=max(2, int(self.config.timeout_s)),  # libpq's minimum is 2
                autocommit=True,
                **secret,
            )
        except psycopg.Error as exc:
            return f"cannot connect: {_first_line(exc)}"
        details["connect_ms"] = elapsed_ms(started)
        try:
            started = time.monotonic()
            try:
                await conn.execute(self.config.query)
            except psycopg.Error as exc:
                return f"query {self.config.query!r} failed: {_first_line(exc)}"
            details["query_ms"] = elapsed_ms(started)
            if self.config.database_size or self.config.max_database_bytes is not None:
                cursor = await conn.execute("SELECT pg_database_size(current_database())")
                row = await cursor.fetchone()
                size = int(row[0]) if row else 0
                details["database_bytes"] = size
                limit = self.config.max_database_bytes
                if limit is not None and size > limit:
                    problems.append(f"database size {size} bytes > {int(limit)} bytes")
        finally:
            await conn.close()
        if self.config.disk_path is not None:
            problems.extend(await self._disk(details))
        return "; ".join(problems) or None

    async def _disk(self, details: dict[str, Any]) -> list[str]:
        path = self.config.disk_path
        assert path is not None
        try:
            usage = await asyncio.to_thread(shutil.disk_usage, path)
        except OSError as exc:
            return [f"cannot read free disk of {path}: {exc.strerror or exc}"]
        percent = round(usage.free * 100 / usage.total, 2) if usage.total else 0.0
        details.update(
            disk_path=path,
            disk_free_bytes=usage.free,
            disk_total_bytes=usage.total,
            disk_free_percent=percent,
        )
        problems = []
        if self.config.min_free_bytes is not None and usage.free < self.config.min_free_bytes:
            problems.append(
                f"free disk of {path}: {usage.free} bytes < {int(self.config.min_free_bytes)} bytes"
            )
        if self.config.min_free_percent is not None and percent < self.config.min_free_percent:
            problems.append(
                f"free disk of {path}: {percent:.1f}% < {self.config.min_free_percent:g}%"
            )
        return problems


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
