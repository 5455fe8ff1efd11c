"""Run events for the rest of the world: a Redis stream and an optional webhook.

Stream entries have the fields ``type``, ``fleet``, ``ts`` (ISO 8601) and
``data`` (JSON). Types: ``restart.scheduled``, ``restart.completed``,
``restart.failed``, ``restart.blocked``, ``service.stopped``,
``service.started``, ``alert``. A delivery failure is logged, never fatal:
the restart matters more than its announcement.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx

from restart_orchestrator.config import NotificationsConfig
from restart_orchestrator.tls import shared_tls_context

EVENT_TYPES = (
    "restart.scheduled",
    "restart.completed",
    "restart.failed",
    "restart.blocked",
    "service.stopped",
    "service.started",
    "alert",
)


class Notifier:
    """Publishes run events; ``warn`` receives delivery problems."""

    def __init__(
        self, fleet: str, config: NotificationsConfig, warn: Callable[[str], None]
    ) -> None:
        self.fleet = fleet
        self.config = config
        self.warn = warn
        self.published: list[dict[str, Any]] = []
        self._redis: Any = None
        if config.redis_url:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(
                config.redis_url, socket_timeout=3, socket_connect_timeout=3
            )

    async def publish(self, kind: str, **data: Any) -> None:
        """Append one event to the stream and POST it to the webhook."""
        assert kind in EVENT_TYPES, kind
        event = {
            "type": kind,
            "fleet": self.fleet,
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "data": data,
        }
        self.published.append(event)
        if self._redis is not None:
            from redis.exceptions import RedisError

            fields = {**event, "data": json.dumps(data, default=str)}
            try:
                await self._redis.xadd(
                    self.config.stream, fields, maxlen=self.config.stream_maxlen, approximate=True
                )
            except (RedisError, OSError) as exc:
                self.warn(f"event {kind} not written to stream {self.config.stream}: {exc}")
        if self.config.webhook_url:
            try:
                async with httpx.AsyncClient(
                    timeout=self.config.webhook_timeout, verify=shared_tls_context()
                ) as client:
                    response = await client.post(
                        self.config.webhook_url,
                        content=json.dumps(event, default=str),
                        headers={"Content-Type": "application/json"},
                    )
                    response.raise_for_status()
            except httpx.HTTPError as exc:
                self.warn(f"event {kind} not delivered to the webhook: {exc or type(exc).__name__}")

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
