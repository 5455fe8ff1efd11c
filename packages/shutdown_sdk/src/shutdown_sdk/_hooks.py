"""Running user hooks: each bounded by a timeout, its outcome recorded, never raising."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("shutdown_sdk")

Hook = Callable[..., Any]


@dataclass(frozen=True)
class HookResult:
    """The outcome of one hook call, as shown in ``/admin/status``."""

    name: str
    ok: bool
    duration_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "duration_ms": round(self.duration_ms, 3),
            "error": self.error,
        }


def hook_name(fn: Hook) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


async def call_bounded(fn: Hook, *args: Any, timeout: float) -> Any:
    """Call a sync or async hook and return its value, raising ``TimeoutError`` past ``timeout``.

    Sync hooks run in a worker thread so that a hung one cannot freeze the event loop.
    """
    async with asyncio.timeout(timeout):
        if inspect.iscoroutinefunction(fn):
            return await fn(*args)
        result = await asyncio.to_thread(fn, *args)
        if inspect.isawaitable(result):
            return await result
        return result


async def run_hook(
    fn: Hook, *args: Any, timeout: float, name: str | None = None
) -> tuple[HookResult, Any]:
    """Run one hook; return its result record and its value (``None`` on failure)."""
    name = name or hook_name(fn)
    started = time.perf_counter()
    try:
        value = await call_bounded(fn, *args, timeout=timeout)
    except TimeoutError:
        error = f"timed out after {timeout:g} s"
    except Exception as exc:  # a user hook may raise anything; it must not stop the sequence
        error = f"{type(exc).__name__}: {exc}"
    else:
        return HookResult(name, True, (time.perf_counter() - started) * 1000), value
    logger.warning("hook %s failed: %s", name, error)
    return HookResult(name, False, (time.perf_counter() - started) * 1000, error), None


async def run_hooks(hooks: list[Hook], *, timeout: float) -> list[HookResult]:
    """Run hooks one after another (registration order), each bounded."""
    results = []
    for fn in hooks:
        result, _ = await run_hook(fn, timeout=timeout)
        results.append(result)
    return results
