"""A client for one service's admin HTTP contract (docs/admin-api.md).

async with AdminClient("execution", "http://127.0.0.1:8002", token) as admin:
    gate = await admin.can_restart()     # {"ok": False, "reasons": [...]}
    await admin.pause()
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from restart_orchestrator.tls import shared_tls_context


class AdminError(Exception):
    """A service did not answer as the contract says; the message names service and route.

    ``status`` is the HTTP status when the service answered, None when it did not answer.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AdminClient:
    """Health and admin calls of one service; the token is sent, never logged."""

    def __init__(self, service: str, url: str, token: str | None, *, timeout_s: float = 5.0):
        self.service = service
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=url, headers=headers, timeout=timeout_s, verify=shared_tls_context()
        )

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *exc: object | TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **params: Any
    ) -> tuple[int, dict[str, Any]]:
        try:
            response = await self._http.request(method, path, params=params or None)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise AdminError(f"{self.service}: {method} {path} failed: {reason}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {"body": body}
        if response.status_code not in ok:
            detail = body.get("detail") or body.get("error") or response.reason_phrase
            raise AdminError(
                f"{self.service}: {method} {path} answered {response.status_code}: {detail}",
                status=response.status_code,
            )
        return response.status_code, body

    async def health(self) -> tuple[int, dict[str, Any]]:
        """``GET /health``: (status code, body); 503 is an answer, not an error."""
        return await self._call("GET", "/health", ok=(200, 503))

    async def ready(self) -> bool:
        """``GET /health/ready`` passes; False when not ready or unreachable."""
        try:
            status, _ = await self._call("GET", "/health/ready", ok=(200, 503))
        except AdminError:
            return False
        return status == 200

    async def can_restart(self) -> dict[str, Any]:
        return (await self._call("GET", "/admin/can-restart"))[1]

    async def pause(self) -> dict[str, Any]:
        return (await self._call("POST", "/admin/pause"))[1]

    async def resume(self) -> dict[str, Any]:
        return (await self._call("POST", "/admin/resume"))[1]

    async def flush(self) -> dict[str, Any]:
        return (await self._call("POST", "/admin/flush"))[1]

    async def save_state(self) -> dict[str, Any]:
        return (await self._call("POST", "/admin/save-state"))[1]

    async def status(self) -> dict[str, Any]:
        return (await self._call("GET", "/admin/status"))[1]

    async def shutdown(self, timeout_s: float | None = None) -> dict[str, Any]:
        params = {"timeout": timeout_s} if timeout_s is not None else {}
        return (await self._call("POST", "/admin/shutdown", ok=(202,), **params))[1]
