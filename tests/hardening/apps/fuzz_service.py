"""A service with every kind of hook, all healthy, for fuzzing and fault tests.

Each hook counts its calls (``GET /hook-calls``): a request refused for want of a
token must leave every count, and the lifecycle state, as it was. Fault tests
steer it through the environment:

* ``TEST_SAVE_DELAY``: seconds the save hook takes (to stop Redis meanwhile);
* ``TEST_BLOCK_FILE``: while this file exists the restart gate says "1 active order";
* ``TEST_IGNORE_SIGTERM``: once started, SIGTERM is ignored (only SIGKILL ends it).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from shutdown_sdk import Lifecycle, admin_router

lifecycle = Lifecycle(os.environ.get("TEST_SERVICE", "fuzz-service"), version="1.0.0")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with lifecycle.lifespan(app):
        if os.environ.get("TEST_IGNORE_SIGTERM"):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        yield


app = FastAPI(lifespan=lifespan)
lifecycle.install(app)
app.include_router(admin_router)

calls: Counter[str] = Counter()
positions: dict[str, float] = {"BTCUSDT": 0.5}


@lifecycle.on_pause
def stop_intake() -> None:
    calls["pause"] += 1


@lifecycle.on_resume
def start_intake() -> None:
    calls["resume"] += 1


@lifecycle.on_flush
async def drain_signals() -> dict[str, int]:
    calls["flush"] += 1
    return {"signals": 0}


@lifecycle.on_save_state("positions")
async def save_positions() -> dict[str, float]:
    calls["save"] += 1
    await asyncio.sleep(float(os.environ.get("TEST_SAVE_DELAY", "0")))
    return dict(positions)


@lifecycle.on_restore_state("positions")
async def restore_positions(saved: dict[str, float]) -> None:
    calls["restore"] += 1
    positions.update(saved)


@lifecycle.restart_blocker
def active_orders() -> str | None:
    calls["blocker"] += 1
    block = os.environ.get("TEST_BLOCK_FILE")
    return "1 active order" if block and os.path.exists(block) else None


async def exchange_reachable() -> None:
    calls["check"] += 1


lifecycle.add_check("exchange", exchange_reachable)


@app.put("/positions/{symbol}")
async def set_position(symbol: str, quantity: float) -> dict[str, float]:
    positions[symbol] = quantity
    return positions


@app.get("/positions")
async def get_positions() -> dict[str, float]:
    return positions


@app.get("/hook-calls")
async def hook_calls() -> dict[str, Any]:
    return {"calls": dict(calls), "state": lifecycle.state.value, "paused": lifecycle.paused}
