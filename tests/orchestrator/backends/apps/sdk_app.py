"""A service built with the SDK exactly as a user would, saving one piece of state.

Run: ``uvicorn sdk_app:app --app-dir tests/orchestrator/backends/apps`` with
``SHUTDOWN_ADMIN_TOKEN`` and ``SHUTDOWN_STATE_STORE`` set.
"""

from __future__ import annotations

from fastapi import FastAPI

from shutdown_sdk import Lifecycle, admin_router

lifecycle = Lifecycle("backend-probe", version="1.0.0")
app = FastAPI(lifespan=lifecycle.lifespan)
lifecycle.install(app)
app.include_router(admin_router)

counter = {"requests": 0}


@lifecycle.on_save_state("counter")
async def save_counter() -> dict[str, int]:
    return counter


@lifecycle.on_restore_state("counter")
async def restore_counter(state: dict[str, int]) -> None:
    counter.update(state)


@app.get("/work")
async def work() -> dict[str, int]:
    counter["requests"] += 1
    return counter
