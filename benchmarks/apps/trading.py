"""The service's own routes, the same in every variant."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Query

BENCH_PATH = "/price/BTCUSDT"
"""The small JSON endpoint the overhead benchmark loads."""


def add_trading_routes(app: FastAPI) -> None:
    """A handful of routes like a real service's; ``/price/{symbol}`` is the one under load."""

    @app.get("/price/{symbol}")
    async def price(symbol: str) -> dict[str, Any]:
        return {"symbol": symbol, "bid": 64250.5, "ask": 64251.0}

    @app.get("/positions")
    async def positions() -> dict[str, float]:
        return {"BTCUSDT": 0.5}

    @app.post("/orders")
    async def place_order(symbol: str, quantity: float) -> dict[str, Any]:
        return {"symbol": symbol, "quantity": quantity, "status": "accepted"}

    @app.get("/work")
    async def work(seconds: float = Query(ge=0, le=60)) -> dict[str, float]:
        """A request of known duration (an order waiting for the exchange's ack)."""
        await asyncio.sleep(seconds)
        return {"slept_s": seconds}
