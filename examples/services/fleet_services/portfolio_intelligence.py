"""portfolio-intelligence (port 8004): analytics over execution's positions.

Every half second it reads ``GET /positions`` from execution, marks the positions
to the latest signal prices and records exposure and P&L. Its analytics state
(runs, marks, the last report) is saved at every stop and restored before ready.

    uvicorn fleet_services.portfolio_intelligence:app --port 8004
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi import FastAPI

from fleet_services import __version__
from fleet_services._common import FleetSettings, Intake, connect_redis, fleet_lifespan
from shutdown_sdk import Lifecycle, admin_router

settings = FleetSettings()
lifecycle = Lifecycle("portfolio-intelligence", version=__version__)
redis = connect_redis(settings, lifecycle)
intake = Intake(lifecycle)
execution = httpx.AsyncClient(base_url=settings.execution_url, timeout=2.0)
lifecycle.add_closer(execution.aclose, name="execution-client")

analytics: dict[str, Any] = {"runs": 0, "errors": 0, "marks": {}, "last_report": None}


async def analyse() -> None:
    try:
        response = await execution.get("/positions")
        response.raise_for_status()
    except httpx.HTTPError as exc:
        analytics["errors"] += 1
        analytics["last_error"] = repr(exc)
        return
    positions: dict[str, dict[str, int]] = response.json()["positions"]
    latest: Any = await redis.xrevrange(settings.key("signals"), count=20)
    marks: dict[str, float] = analytics["marks"]
    for _, fields in reversed(latest):
        marks[fields["symbol"]] = float(fields["price"])
    report: dict[str, Any] = {"at": time.time(), "exposure": 0.0, "pnl": 0.0, "symbols": {}}
    for symbol, position in positions.items():
        mark = marks.get(symbol)
        if mark is None:
            continue
        value = position["qty"] * mark
        pnl = value - position["notional_cents"] / 100
        report["symbols"][symbol] = {
            "qty": position["qty"],
            "value": round(value, 2),
            "pnl": round(pnl, 2),
        }
        report["exposure"] += abs(value)
        report["pnl"] += pnl
    report["exposure"], report["pnl"] = round(report["exposure"], 2), round(report["pnl"], 2)
    analytics["runs"] += 1
    analytics["last_report"] = report


async def run_analytics() -> None:
    await intake.run(analyse, interval=0.5, name="analytics")


@lifecycle.on_pause
async def stop_analytics() -> None:
    await intake.quiesce()


@lifecycle.on_save_state("analytics")
def save_analytics() -> dict[str, Any]:
    return analytics


@lifecycle.on_restore_state("analytics")
def restore_analytics(saved: dict[str, Any]) -> None:
    analytics.update(saved)


app = FastAPI(
    title="portfolio-intelligence",
    version=__version__,
    lifespan=lambda app: fleet_lifespan(lifecycle, settings, app, run_analytics),
)
lifecycle.install(app)
app.include_router(admin_router)


@app.get("/analytics")
async def get_analytics() -> dict[str, Any]:
    """The latest exposure and P&L report and the loop's counters."""
    return analytics
