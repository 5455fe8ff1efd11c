"""Runs a check body under ``timeout_s`` and turns anything it raises into a failed result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from restart_orchestrator.checks.base import CheckConfig, CheckResult

CheckBody = Callable[[dict[str, Any]], Awaitable[str | None]]


async def bounded(kind: str, config: CheckConfig, body: CheckBody) -> CheckResult:
    """Run ``body(details)``: it fills ``details`` and returns a failure reason or ``None``.

    The result never raises and never outlives ``config.timeout_s``; a timeout
    or an exception becomes a failed result whose reason says so.
    """
    details: dict[str, Any] = {}
    started = time.monotonic()
    try:
        async with asyncio.timeout(config.timeout_s):
            reason = await body(details)
    except TimeoutError:
        reason = f"no answer within {config.timeout_s:g} s"
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return CheckResult(
        name=config.name,
        kind=kind,
        ok=reason is None,
        duration_s=time.monotonic() - started,
        reason=reason or "ok",
        details=details,
    )


def elapsed_ms(since: float) -> float:
    """Milliseconds since ``since`` (a ``time.monotonic()`` reading), rounded for reports."""
    return round((time.monotonic() - since) * 1000, 2)


def latency_problem(latency_ms: float, limit_ms: float | None) -> str | None:
    if limit_ms is not None and latency_ms > limit_ms:
        return f"latency {latency_ms:.1f} ms > {limit_ms:g} ms"
    return None
