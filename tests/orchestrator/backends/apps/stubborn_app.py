"""A server that accepts /admin/shutdown and then never exits (and ignores SIGTERM).

It stands for a service whose drain hangs: the backend must force it after the grace.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # after uvicorn installed its handlers
    yield


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"alive": True})


async def shutdown(request: Request) -> JSONResponse:
    body: dict[str, object] = {"accepted": True, "pid": os.getpid()}
    if os.environ.get("STUBBORN_HIDE_PID"):  # like a service on another machine
        del body["pid"]
    return JSONResponse(body, status_code=202)


app = Starlette(
    routes=[Route("/health/live", live), Route("/admin/shutdown", shutdown, methods=["POST"])],
    lifespan=lifespan,
)
