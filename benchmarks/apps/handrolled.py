"""(c) The usual hand-rolled alternative: an in-flight counter in ``BaseHTTPMiddleware``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware

from benchmarks.apps.trading import add_trading_routes


class InFlightCounter(BaseHTTPMiddleware):
    in_flight = 0

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        InFlightCounter.in_flight += 1
        try:
            return await call_next(request)
        finally:
            InFlightCounter.in_flight -= 1


def build() -> FastAPI:
    app = FastAPI()
    app.add_middleware(InFlightCounter)

    @app.get("/health")
    async def health() -> dict[str, int]:
        return {"in_flight": InFlightCounter.in_flight}

    add_trading_routes(app)
    return app


app = build()
