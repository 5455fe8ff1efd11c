"""Pure-ASGI middleware: counts in-flight requests and refuses new ones while draining.

``BaseHTTPMiddleware`` would return before a streamed body is sent (the count
would reach zero too early) and halves a small endpoint's throughput, so this is
a plain ASGI class: the request counts until ``self.app`` returns, which is after
the last body chunk and the response's background tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from shutdown_sdk._lifecycle import Lifecycle

# Control-plane routes are never counted (a drain would wait for its own status
# polls) and never refused (the orchestrator must see the drain).
CONTROL_PREFIXES = ("/admin/", "/health/")
CONTROL_PATHS = frozenset({"/health", "/metrics"})

_REFUSAL_BODY = b'{"detail":"service is shutting down; retry on another instance"}'


class LifecycleMiddleware:
    """Counts HTTP requests and websocket sessions; answers 503 to new ones while draining."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle
        self.work = lifecycle.work
        self.control_app = lifecycle.control_app or app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in CONTROL_PATHS or path.startswith(CONTROL_PREFIXES):
            await self.control_app(scope, receive, send)
            return
        if self.lifecycle.refusing:
            await self._refuse(scope, send)
            return
        work = self.work
        work.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            work.in_flight -= 1
            if work.quiet is not None:
                work.poke()

    async def _refuse(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            # 1013 "try again later": the client should reconnect to another instance.
            await send({"type": "websocket.close", "code": 1013, "reason": "shutting down"})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_REFUSAL_BODY)).encode()),
                    (b"retry-after", self.lifecycle.retry_after_header),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _REFUSAL_BODY})
