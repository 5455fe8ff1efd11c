"""Helpers for testing your own hooks, in-process (the ``testing`` extra: asgi-lifespan).

>>> import asyncio
>>> from fastapi import FastAPI
>>> from shutdown_sdk import Lifecycle, ShutdownSettings, admin_router
>>> from shutdown_sdk.testing import MemoryStateStore, run_lifecycle
>>> store = MemoryStateStore()
>>> def build() -> FastAPI:
...     lifecycle = Lifecycle("doc", settings=ShutdownSettings(admin_token="t"), store=store)
...     app = FastAPI(lifespan=lifecycle.lifespan)
...     lifecycle.install(app, metrics=False)
...     app.include_router(admin_router)
...     @lifecycle.on_save_state("count")
...     def save() -> int:
...         return 41 + 1
...     return app
>>> async def scenario() -> int:
...     async with run_lifecycle(build()) as harness:
...         await harness.shutdown()   # drain, save, close: as on SIGTERM
...     return store.current.state["count"]
>>> asyncio.run(scenario())
42
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from shutdown_sdk._lifecycle import Lifecycle
from shutdown_sdk._snapshot import Snapshot
from shutdown_sdk._stores import SaveReceipt

__all__ = ["LifecycleHarness", "MemoryStateStore", "run_lifecycle"]


class MemoryStateStore:
    """A state store in memory, keeping the previous snapshot like the real ones."""

    kind = "memory"

    def __init__(self, current: Snapshot | None = None) -> None:
        self.current = current
        self.previous: Snapshot | None = None
        self.saves = 0

    async def save(self, snapshot: Snapshot) -> SaveReceipt:
        self.previous, self.current = self.current, Snapshot.from_json(snapshot.to_json())
        self.saves += 1
        return SaveReceipt(store="memory", key="memory", size_bytes=len(snapshot.to_json()))

    async def load(self) -> Snapshot | None:
        return self.current

    async def load_previous(self) -> Snapshot | None:
        return self.previous

    async def rollback(self) -> bool:
        if self.previous is None:
            return False
        self.current, self.previous = self.previous, None
        return True

    async def aclose(self) -> None:
        return None


@dataclass
class LifecycleHarness:
    """An app running in-process: an httpx ``client`` and the app's ``lifecycle``."""

    client: httpx.AsyncClient
    lifecycle: Lifecycle
    exit_requested: asyncio.Event = field(default_factory=asyncio.Event)
    _manager: Any = None

    def admin_headers(self) -> dict[str, str]:
        token = self.lifecycle.settings.admin_token
        return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}

    async def shutdown(self, timeout: float | None = None) -> dict[str, Any]:
        """Run the whole exit sequence as a server would and return the final status."""
        self.lifecycle.request_shutdown(timeout=timeout, reason="test")
        await asyncio.wait_for(self.exit_requested.wait(), (timeout or 60) + 5)
        await self._manager.__aexit__(None, None, None)
        self._manager = None
        return await self.lifecycle.status()


@asynccontextmanager
async def run_lifecycle(
    app: Any, *, startup_timeout: float = 10, shutdown_timeout: float = 60
) -> AsyncIterator[LifecycleHarness]:
    """Start ``app`` (lifespan and all) in-process; shut it down at the end if not done yet."""
    try:
        from asgi_lifespan import LifespanManager
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError("install 'shutdown-sdk[testing]' for shutdown_sdk.testing") from exc

    manager = LifespanManager(
        app, startup_timeout=startup_timeout, shutdown_timeout=shutdown_timeout
    )
    await manager.__aenter__()
    lifecycle: Lifecycle = app.state.lifecycle
    transport = httpx.ASGITransport(app=manager.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        harness = LifecycleHarness(client=client, lifecycle=lifecycle, _manager=manager)
        lifecycle.on_exit_requested = harness.exit_requested.set
        try:
            yield harness
        finally:
            if harness._manager is not None:
                await manager.__aexit__(None, None, None)
