"""What the five services share: settings, the Redis event bus, the lifespan, the work loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis

from shutdown_sdk import Lifecycle, redis_check

logger = logging.getLogger("fleet_services")


class FleetSettings(BaseSettings):
    """The fleet's own settings (``FLEET_*``); the SDK reads its ``SHUTDOWN_*`` ones.

    >>> FleetSettings(key_prefix="demo").key("signals")
    'demo:signals'
    """

    model_config = SettingsConfigDict(env_prefix="FLEET_", extra="ignore", frozen=True)

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="The event bus (signal stream, orders, fills). Always Redis.",
    )
    key_prefix: str = Field(default="fleet", min_length=1)
    execution_url: str = "http://127.0.0.1:8002"
    risk_safety_url: str = "http://127.0.0.1:8003"
    restart_events_stream: str = Field(
        default="restart:events", description="restartctl's event stream (notifications.stream)."
    )
    signal_rate: float = Field(default=10.0, gt=0, le=1000, description="Signals per second.")
    exchange_latency_min_ms: int = Field(default=10, ge=0)
    exchange_latency_max_ms: int = Field(default=60, ge=0)
    fault_file: Path | None = Field(
        default=None,
        description="When this file exists at startup the service refuses to start "
        "(a broken deployment on purpose, for the failure drill).",
    )

    def key(self, *parts: str) -> str:
        return ":".join((self.key_prefix, *parts))


def connect_redis(settings: FleetSettings, lifecycle: Lifecycle) -> Redis:
    """The bus client: checked in ``/health`` (critical: no bus, no trading), closed at exit."""
    client = Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=3, health_check_interval=5
    )
    lifecycle.add_check("redis", redis_check(client), critical=True)
    lifecycle.add_closer(client.aclose, name="redis")
    return client


Loop = Callable[[], Coroutine[Any, Any, None]]
Step = Callable[[], Awaitable[None]]


@asynccontextmanager
async def fleet_lifespan(
    lifecycle: Lifecycle, settings: FleetSettings, app: Any, *loops: Loop
) -> AsyncIterator[None]:
    """The SDK's lifespan plus the service's background loops.

    Loops start once the state is restored and end on ``lifecycle.stopping``; by the
    time the server runs lifespan shutdown the drain is over, so they are awaited
    here, before the SDK saves the state they produced.
    """
    if settings.fault_file is not None and settings.fault_file.exists():
        reason = settings.fault_file.read_text().strip() or "fault file present"
        raise RuntimeError(f"{lifecycle.service}: refusing to start: {reason}")
    async with lifecycle.lifespan(app):
        tasks = [asyncio.create_task(loop(), name=loop.__name__) for loop in loops]
        try:
            yield
        finally:
            lifecycle.stopping.set()
            _, pending = await asyncio.wait(tasks, timeout=10) if tasks else (set(), set())
            for task in pending:
                logger.error("%s: %s did not stop in 10 s", lifecycle.service, task.get_name())
                task.cancel()
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    logger.error(
                        "%s: %s failed: %r", lifecycle.service, task.get_name(), task.exception()
                    )


class Intake:
    """Runs one step of background work at a time, only while the service is not paused.

    ``await intake.quiesce()`` (the pause hook) returns once the step in progress is
    done, so nothing new is produced after a pause has been answered.
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self._lock = asyncio.Lock()

    async def quiesce(self) -> None:
        async with self._lock:
            pass

    async def run(self, step: Step, *, interval: float, name: str) -> None:
        """Call ``step`` every ``interval`` seconds until the service stops."""
        lifecycle = self.lifecycle
        while not lifecycle.stopping.is_set():
            await lifecycle.wait_until_resumed()
            async with self._lock:
                if lifecycle.stopping.is_set():
                    break
                if lifecycle.paused:
                    continue
                try:
                    await step()
                except Exception:
                    logger.exception("%s: %s step failed", lifecycle.service, name)
                    await sleep_unless_stopping(lifecycle, 1.0)
            await sleep_unless_stopping(lifecycle, interval)


async def sleep_unless_stopping(lifecycle: Lifecycle, seconds: float) -> None:
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await lifecycle.stopping.wait()
