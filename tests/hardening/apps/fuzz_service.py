"""A service with every kind of hook, all healthy, for fuzzing the admin API.

Each hook counts its calls (``GET /hook-calls``): a request refused for want of a
token must leave every count, and the lifecycle state, as it was.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from fastapi import FastAPI

from shutdown_sdk import Lifecycle, admin_router

lifecycle = Lifecycle(os.environ.get("TEST_SERVICE", "fuzz-service"), version="1.0.0")
app = FastAPI(lifespan=lifecycle.lifespan)
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
    return positions


@lifecycle.on_restore_state("positions")
async def restore_positions(saved: dict[str, float]) -> None:
    calls["restore"] += 1
    positions.update(saved)


@lifecycle.restart_blocker
async def active_orders() -> str | None:
    calls["blocker"] += 1
    return None


async def exchange_reachable() -> None:
    calls["check"] += 1


lifecycle.add_check("exchange", exchange_reachable)


@app.get("/hook-calls")
async def hook_calls() -> dict[str, Any]:
    return {"calls": dict(calls), "state": lifecycle.state.value, "paused": lifecycle.paused}
