"""(a) The service alone: what every other variant is compared with."""

from __future__ import annotations

from fastapi import FastAPI

from benchmarks.apps.trading import add_trading_routes


def build() -> FastAPI:
    app = FastAPI()
    add_trading_routes(app)
    return app


app = build()
