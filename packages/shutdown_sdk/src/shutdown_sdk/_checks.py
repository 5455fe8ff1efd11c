"""Dependency checks shown in ``/health``: cached, bounded, and never raising.

A check is an async callable returning ``None`` (or a dict of figures) when the
dependency is fine and raising when it is not. Factories for the usual ones:
:func:`redis_check`, :func:`postgres_check`, :func:`http_check`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from shutdown_sdk._snapshot import utc_now_iso

CheckFn = Callable[[], Awaitable[Any]]


@dataclass
class DependencyCheck:
    """One registered check and its last result (reused for ``ttl`` seconds)."""

    name: str
    fn: CheckFn
    timeout: float = 2.0
    ttl: float = 5.0
    critical: bool = False  # a failing critical check makes readiness fail
    _result: dict[str, Any] | None = None
    _checked: float = -1e18
    _running: asyncio.Task[dict[str, Any]] | None = field(default=None, repr=False)

    async def result(self) -> dict[str, Any]:
        if self._result is not None and time.monotonic() - self._checked < self.ttl:
            return self._result
        if self._running is None:
            # One probe at a time however many health requests arrive together.
            self._running = asyncio.create_task(self._probe())
        try:
            return await asyncio.shield(self._running)
        finally:
            if self._running is not None and self._running.done():
                self._running = None

    async def _probe(self) -> dict[str, Any]:
        started = time.perf_counter()
        details: Any = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                details = await self.fn()
        except TimeoutError:
            error = f"timed out after {self.timeout:g} s"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        result: dict[str, Any] = {
            "ok": error is None,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "error": error,
            "critical": self.critical,
            "checked_at": utc_now_iso(),
        }
        if isinstance(details, dict):
            result["details"] = details
        self._result, self._checked = result, time.monotonic()
        return result


def redis_check(client: Any) -> CheckFn:
    """PING through a ``redis.asyncio.Redis`` client the service already has."""

    async def check() -> None:
        await client.ping()

    return check


def postgres_check(dsn: str, query: str = "SELECT 1") -> CheckFn:
    """Connect to PostgreSQL and run ``query`` (needs the ``postgres`` extra: psycopg)."""

    async def check() -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=2) as conn:
            await conn.execute(query)  # type: ignore[arg-type,unused-ignore]

    return check


def http_check(url: str, *, expect_status: int = 200, timeout: float = 2.0) -> CheckFn:
    """GET ``url`` and expect ``expect_status`` (an exchange API, a sibling service)."""
    import ssl

    import httpx

    tls: list[ssl.SSLContext] = []  # built at the first check, then reused

    async def check() -> dict[str, Any]:
        # A new client would load the CA bundle again: tens of ms of blocked event loop.
        if not tls:
            tls.append(httpx.create_ssl_context())
        async with httpx.AsyncClient(timeout=timeout, verify=tls[0]) as client:
            response = await client.get(url)
        if response.status_code != expect_status:
            raise RuntimeError(f"{url} answered {response.status_code}, not {expect_status}")
        return {"status": response.status_code}

    return check
