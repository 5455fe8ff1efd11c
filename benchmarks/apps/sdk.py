"""(b) The service with the SDK: middleware, admin router and lifecycle.

The admin router is included *before* the service's own routes: the worst case
for routing (Starlette matches routes in order). Settings come from ``SHUTDOWN_*``.
"""

from __future__ import annotations

from fastapi import FastAPI

from benchmarks.apps.trading import add_trading_routes
from shutdown_sdk import Lifecycle, ShutdownSettings, admin_router


def build(settings: ShutdownSettings | None = None, *, router_first: bool = True) -> FastAPI:
    """``router_first=False`` includes the admin router after the service's routes."""
    lifecycle = Lifecycle("bench", version="1.0.0", settings=settings)
    app = FastAPI(lifespan=lifecycle.lifespan)
    lifecycle.install(app)
    if router_first:
        app.include_router(admin_router)
    add_trading_routes(app)
    if not router_first:
        app.include_router(admin_router)
    return app


app = build()
