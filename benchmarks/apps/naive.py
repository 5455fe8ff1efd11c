"""The original runbook's shutdown: a fixed sleep "to let requests finish", then save and exit.

``POST /admin/shutdown`` sleeps inside its own request, then signals the process
(daily-restart-strategy.md, "Graceful shutdown hooks"); on SIGTERM the same fixed
sleep runs in the lifespan shutdown. ``NAIVE_SHUTDOWN_SLEEP`` (default 5 s, the
runbook's figure) sets the sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from benchmarks.apps.trading import add_trading_routes

SLEEP_S = float(os.environ.get("NAIVE_SHUTDOWN_SLEEP", "5"))
STATE_DIR = Path(os.environ.get("NAIVE_STATE_DIR", tempfile.gettempdir()))


def build() -> FastAPI:
    shutting_down = False

    def save_state() -> None:
        (STATE_DIR / "naive-state.json").write_text(json.dumps({"positions": {"BTCUSDT": 0.5}}))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if not shutting_down:  # SIGTERM: the same fixed sleep, then save
            await asyncio.sleep(SLEEP_S)
            save_state()

    app = FastAPI(lifespan=lifespan)

    @app.post("/admin/shutdown")
    async def graceful_shutdown() -> dict[str, str]:
        nonlocal shutting_down
        shutting_down = True
        await asyncio.sleep(SLEEP_S)  # "Give requests time to finish"
        save_state()
        os.kill(os.getpid(), signal.SIGTERM)
        return {"status": "shutting down"}

    add_trading_routes(app)
    return app


app = build()
