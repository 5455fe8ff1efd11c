"""risk-safety (port 8003): the emergency-stop switch (ESS) and the trading limits.

execution asks ``GET /ess`` before every order. The ESS state and the limits are
saved at every stop and restored before ready: a restart never silently re-arms
trading that an operator had stopped.

    uvicorn fleet_services.risk_safety:app --port 8003
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from fleet_services import __version__
from fleet_services._common import FleetSettings, connect_redis, fleet_lifespan
from shutdown_sdk import Lifecycle, admin_router

settings = FleetSettings()
lifecycle = Lifecycle("risk-safety", version=__version__)
redis = connect_redis(settings, lifecycle)


class Limits(BaseModel):
    """Per-order and per-symbol bounds execution applies."""

    model_config = {"extra": "forbid"}

    max_order_qty: int = Field(default=10, gt=0)
    max_position: int = Field(default=10_000, gt=0)


class Trip(BaseModel):
    model_config = {"extra": "forbid"}

    reason: str = Field(min_length=1, max_length=500)


class EmergencyStop(BaseModel):
    """The ESS: when active, execution rejects every order."""

    active: bool = False
    reason: str | None = None
    changed_at: str | None = None
    trips: int = 0
    limits: Limits = Limits()


ess = EmergencyStop()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@lifecycle.on_save_state("ess")
def save_ess() -> dict[str, Any]:
    return ess.model_dump()


@lifecycle.on_restore_state("ess")
def restore_ess(saved: dict[str, Any]) -> None:
    global ess
    ess = EmergencyStop.model_validate(saved)


app = FastAPI(
    title="risk-safety",
    version=__version__,
    lifespan=lambda app: fleet_lifespan(lifecycle, settings, app),
)
lifecycle.install(app)
app.include_router(admin_router)


@app.get("/ess")
async def get_ess() -> EmergencyStop:
    """The switch and the limits."""
    return ess


@app.post("/ess/trip")
async def trip_ess(trip: Trip) -> EmergencyStop:
    """Stop all trading now."""
    global ess
    ess = ess.model_copy(
        update={"active": True, "reason": trip.reason, "changed_at": _now(), "trips": ess.trips + 1}
    )
    return ess


@app.post("/ess/reset")
async def reset_ess() -> EmergencyStop:
    """Allow trading again."""
    global ess
    ess = ess.model_copy(update={"active": False, "reason": None, "changed_at": _now()})
    return ess


@app.put("/ess/limits")
async def set_limits(limits: Limits) -> EmergencyStop:
    """Replace the limits."""
    global ess
    ess = ess.model_copy(update={"limits": limits, "changed_at": _now()})
    return ess
