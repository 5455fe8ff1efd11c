"""Lifecycle events on a Redis stream, and pause/resume shared across worker processes.

Both are best effort with bounded waits: Redis being down must never stop a
service from pausing, draining or exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shutdown_sdk._snapshot import utc_now_iso

logger = logging.getLogger("shutdown_sdk")

STREAM_MAXLEN = 10_000


class RedisBus:
    """Publishes events (XADD) and carries pause/resume between the workers of one service."""

    def __init__(
        self,
        url: str,
        *,
        service: str,
        stream: str,
        key_prefix: str,
        timeout: float = 1.0,
    ) -> None:
        import redis.asyncio as aioredis

        self.service = service
        self.stream = stream
        self.paused_key = f"{key_prefix}:{service}:paused"
        self.channel = f"{key_prefix}:{service}:control"
        self.timeout = timeout
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._listener: asyncio.Task[None] | None = None
        self._warned = False

    async def publish(self, type_: str, data: dict[str, Any]) -> None:
        fields = {
            "type": type_,
            "service": self.service,
            "ts": utc_now_iso(),
            "data": json.dumps(data, default=str),
        }
        try:
            async with asyncio.timeout(self.timeout):
                await self._redis.xadd(
                    self.stream,
                    fields,  # type: ignore[arg-type]
                    maxlen=STREAM_MAXLEN,
                    approximate=True,
                )
            self._warned = False
        except Exception as exc:  # best effort: log once per outage
            if not self._warned:
                logger.warning("could not publish %s to %s: %s", type_, self.stream, exc)
                self._warned = True

    async def share_pause(self, paused: bool) -> None:
        """Record the pause for every worker (and workers started later) and tell them now."""
        try:
            async with asyncio.timeout(self.timeout):
                if paused:
                    await self._redis.set(self.paused_key, "1")
                else:
                    await self._redis.delete(self.paused_key)
                await self._redis.publish(self.channel, "pause" if paused else "resume")
        except Exception as exc:
            logger.warning("could not share %s with other workers: %s", "pause", exc)

    async def shared_pause(self) -> bool | None:
        """The fleet-wide pause flag, or ``None`` when Redis cannot say."""
        try:
            async with asyncio.timeout(self.timeout):
                return bool(await self._redis.exists(self.paused_key))
        except Exception:
            return None

    def listen(self, apply: Callable[[bool], Awaitable[None]]) -> None:
        """Apply pause/resume messages published by sibling workers, until ``aclose()``."""
        self._listener = asyncio.create_task(self._listen(apply), name="shutdown-sdk-control")

    async def _listen(self, apply: Callable[[bool], Awaitable[None]]) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await apply(message["data"] == b"pause")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("control channel dropped (%s); reconnecting", exc)
                await asyncio.sleep(1.0)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()
