"""A service for the SDK's process tests: slow endpoints, a stream, tracked orders, state.

Configured through the environment (``SHUTDOWN_*`` for the SDK, ``TEST_*`` here).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from shutdown_sdk import Lifecycle, admin_router

lifecycle = Lifecycle(os.environ.get("TEST_SERVICE", "slow-service"), version="1.0.0")
app = FastAPI(lifespan=lifecycle.lifespan)
lifecycle.install(app)
app.include_router(admin_router)

counter: dict[str, Any] = {"requests": 0, "orders": []}


@lifecycle.on_save_state("counter")
def save_counter() -> dict[str, Any]:
    if os.environ.get("TEST_SAVE_HOOK") == "raise":
        raise RuntimeError("save hook broken on purpose")
    return counter


@lifecycle.on_restore_state("counter")
def restore_counter(saved: dict[str, Any]) -> None:
    counter.update(saved)


if os.environ.get("TEST_CLOSER") == "hang":

    async def hanging_closer() -> None:
        await asyncio.sleep(3600)

    lifecycle.add_closer(hanging_closer, name="hanging", timeout=0.5)


@app.get("/slow")
async def slow(seconds: float = 1.0) -> dict[str, Any]:
    await asyncio.sleep(seconds)
    counter["requests"] += 1
    return {"slept": seconds, "padding": "x" * 2048}


@app.get("/stream")
async def stream(chunks: int = 5, interval: float = 0.2) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for index in range(chunks):
            await asyncio.sleep(interval)
            yield f"chunk {index}\n".encode()

    return StreamingResponse(body(), media_type="text/plain")


@app.post("/orders/{order_id}")
async def place_order(order_id: str, seconds: float = 0.5) -> dict[str, Any]:
    """Accept at once; the order completes in the background, tracked as work."""

    async def execute() -> None:
        async with lifecycle.track("order", id=order_id):
            await asyncio.sleep(seconds)
            counter["orders"].append(order_id)

    task = asyncio.create_task(execute())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    await asyncio.sleep(0)  # let the unit register before answering
    return {"accepted": order_id}


_tasks: set[asyncio.Task[None]] = set()


@app.get("/counter")
async def get_counter() -> dict[str, Any]:
    return counter
