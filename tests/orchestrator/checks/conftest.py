"""Fixtures for the check tests: servers that answer, and one that accepts and stays silent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.orchestrator.backends.servers import serve_in_thread, silent_listener


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never sends a byte (a hung peer)."""
    with silent_listener() as port:
        yield port


async def _status(request: Request) -> PlainTextResponse:
    return PlainTextResponse("status", status_code=int(request.path_params["code"]))


async def _slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(float(request.query_params.get("s", "0.3")))
    return PlainTextResponse("slow")


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    """A real HTTP server: ``/status/{code}`` answers that code, ``/slow?s=`` sleeps first."""
    app = Starlette(routes=[Route("/status/{code:int}", _status), Route("/slow", _slow)])
    with serve_in_thread(app) as url:
        yield url
