"""A small trading service for the orchestrator's tests, built on the SDK as a user would.

Controlled by files in ``TEST_CONTROL_DIR`` (so a test can change behaviour
between restarts without touching the process):

* ``<service>.block``: the restart gate says "2 active orders";
* ``<service>.poison-on-save``: the state saved *at shutdown* is poisoned and
  its restore fails at the next startup (the snapshot saved before, in phase 1,
  is good: rolling back to it cures the service);
* ``<service>.never-ready``: startup never completes (the port never opens).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shutdown_sdk import Lifecycle, admin_router

SERVICE = os.environ.get("TEST_SERVICE", "trading")
CONTROL = Path(os.environ.get("TEST_CONTROL_DIR", "."))

lifecycle = Lifecycle(SERVICE, version="1.0.0")
book: dict[str, Any] = {"filled": [], "restored": False, "paused_calls": 0, "resumed_calls": 0}
_tasks: set[asyncio.Task[None]] = set()


def flag(name: str) -> bool:
    return (CONTROL / f"{SERVICE}.{name}").exists()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with lifecycle.lifespan(app):
        if flag("never-ready"):
            await asyncio.sleep(3600)
        yield


app = FastAPI(lifespan=lifespan)
lifecycle.install(app)
app.include_router(admin_router)


@lifecycle.on_pause
def stop_intake() -> None:
    book["paused_calls"] += 1


@lifecycle.on_resume
def start_intake() -> None:
    book["resumed_calls"] += 1


@lifecycle.on_flush
def flush_signals() -> dict[str, int]:
    return {"signals": 0}


@lifecycle.restart_blocker
def active_orders() -> str | None:
    return "2 active orders" if flag("block") else None


@lifecycle.on_save_state("book")
def save_book() -> dict[str, Any]:
    poisoned = lifecycle.stopping.is_set() and flag("poison-on-save")
    return {"filled": book["filled"], "poison": poisoned}


@lifecycle.on_restore_state("book")
def restore_book(saved: dict[str, Any]) -> None:
    if saved.get("poison"):
        raise RuntimeError("poisoned state")
    book["filled"] = list(saved.get("filled", []))
    book["restored"] = True


@app.post("/orders/{order_id}")
async def place_order(order_id: str, seconds: float = 0.5) -> dict[str, str]:
    """Accept at once; the order fills in the background, tracked as work."""

    async def fill() -> None:
        async with lifecycle.track("order", id=order_id):
            await asyncio.sleep(seconds)
            book["filled"].append(order_id)

    task = asyncio.create_task(fill())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    await asyncio.sleep(0)
    return {"accepted": order_id}


@app.get("/book")
def read_book() -> dict[str, Any]:
    return {**book, "paused": lifecycle.paused}
