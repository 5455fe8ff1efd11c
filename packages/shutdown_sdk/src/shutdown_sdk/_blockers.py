"""Reusable restart blockers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Blocker = Callable[[], Awaitable[str | None]]


def queue_lag_blocker(client: Any, stream: str, group: str, *, threshold: int = 100) -> Blocker:
    """Block a restart while a consumer group lags more than ``threshold`` entries behind.

    ``client`` is a ``redis.asyncio.Redis``. Lag is what Redis reports for the group
    (``XINFO GROUPS``: ``lag``, plus ``pending`` entries delivered but not acknowledged).

    >>> blocker = queue_lag_blocker(object(), "signals", "execution", threshold=100)
    >>> callable(blocker)
    True
    """

    async def blocker() -> str | None:
        groups = await client.xinfo_groups(stream)
        for info in groups:
            name = info.get("name")
            if isinstance(name, bytes):
                name = name.decode()
            if name != group:
                continue
            lag = int(info.get("lag") or 0)
            pending = int(info.get("pending") or 0)
            if lag + pending > threshold:
                return f"queue lag {lag + pending} > {threshold} on {stream}/{group}"
            return None
        return None

    blocker.__name__ = blocker.__qualname__ = f"queue_lag:{stream}/{group}"
    return blocker
