"""``admin_router``: the health and admin routes of the contract in docs/admin-api.md.

The lifecycle's middleware answers these paths itself through :func:`control_app`
(so the service's own routing never sees them), and the lifespan moves the
included copies behind the app's own routes, so they cost nothing on the hot path.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp

from shutdown_sdk._errors import validation_error_response
from shutdown_sdk._lifecycle import Lifecycle, LifecycleConflict

logger = logging.getLogger("shutdown_sdk")

_bearer = HTTPBearer(auto_error=False, description="The service's SHUTDOWN_ADMIN_TOKEN.")


def get_lifecycle(request: Request) -> Lifecycle:
    lifecycle: Lifecycle | None = getattr(request.app.state, "lifecycle", None)
    if lifecycle is None:
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            "shutdown_sdk is not installed on this app: call lifecycle.install(app)",
        )
    return lifecycle


def require_admin(
    lifecycle: Annotated[Lifecycle, Depends(get_lifecycle)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Lifecycle:
    """Bearer-token check: 401 missing, 403 wrong, compared in constant time."""
    expected = lifecycle.settings.admin_token
    if expected is None:
        if lifecycle.settings.allow_insecure_admin:
            return lifecycle
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "admin API disabled: set SHUTDOWN_ADMIN_TOKEN on this service "
            "(or SHUTDOWN_ALLOW_INSECURE_ADMIN=true for local development)",
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    given = credentials.credentials.encode()
    if not hmac.compare_digest(given, expected.get_secret_value().encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid admin token")
    return lifecycle


def only_query(*allowed: str) -> Any:
    """A dependency refusing query parameters the route does not know (a typo must not pass)."""

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                f"unknown query parameter(s): {', '.join(unknown)}"
                + (f"; allowed: {', '.join(allowed)}" if allowed else ""),
            )

    return Depends(check)


class ActionBody(BaseModel):
    """Optional JSON body of the POST routes: why the action was taken (logged and in events)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=200)


Admin = Annotated[Lifecycle, Depends(require_admin)]
Lc = Annotated[Lifecycle, Depends(get_lifecycle)]
Timeout = Annotated[
    float | None,
    Query(
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Drain deadline in seconds for this shutdown (overrides the setting).",
    ),
]

admin_router = APIRouter(tags=["lifecycle"])


def _status_code(response: Response, ok: bool) -> None:
    if not ok:
        response.status_code = status.HTTP_500_INTERNAL_SERVER_ERROR


@admin_router.get("/health", dependencies=[only_query()])
async def health(lifecycle: Lc, response: Response) -> dict[str, Any]:
    """200 while ready or paused, 503 otherwise; state, in-flight, work, checks."""
    body = await lifecycle.health()
    if not lifecycle.state.serving:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return body


@admin_router.get("/health/live", dependencies=[only_query()])
async def health_live(lifecycle: Lc) -> dict[str, Any]:
    """200 while the process and its event loop answer."""
    return {"alive": True, "state": lifecycle.state.value}


@admin_router.get("/health/ready", dependencies=[only_query()])
async def health_ready(lifecycle: Lc, response: Response) -> dict[str, Any]:
    """200 only while the service should receive traffic."""
    ready = await lifecycle.ready()
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"ready": ready, "state": lifecycle.state.value}


@admin_router.post("/admin/pause", dependencies=[only_query()])
async def pause(lifecycle: Admin, body: ActionBody | None = None) -> dict[str, Any]:
    """Stop taking new background work; HTTP keeps being served. Idempotent."""
    try:
        return await lifecycle.pause(reason=body.reason if body else None)
    except LifecycleConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@admin_router.post("/admin/resume", dependencies=[only_query()])
async def resume(lifecycle: Admin, body: ActionBody | None = None) -> dict[str, Any]:
    """Take background work again. Idempotent."""
    try:
        return await lifecycle.resume(reason=body.reason if body else None)
    except LifecycleConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@admin_router.post("/admin/flush", dependencies=[only_query()])
async def flush(lifecycle: Admin, response: Response) -> dict[str, Any]:
    """Run the flush hooks (drain event-bus consumers); report what was flushed."""
    report = await lifecycle.flush()
    _status_code(response, report["ok"])
    return report


@admin_router.post("/admin/save-state", dependencies=[only_query()])
async def save_state(lifecycle: Admin, response: Response) -> dict[str, Any]:
    """Run the save hooks and write a snapshot; report key, size and time."""
    report = await lifecycle.save_state(reason="admin")
    _status_code(response, report["ok"])
    return report


@admin_router.get("/admin/can-restart", dependencies=[only_query()])
async def can_restart(lifecycle: Admin) -> dict[str, Any]:
    """Ask the restart blockers (active orders, pending fills, queue lag)."""
    return await lifecycle.can_restart()


@admin_router.post(
    "/admin/shutdown",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[only_query("timeout")],
)
async def shutdown(
    lifecycle: Admin, timeout: Timeout = None, body: ActionBody | None = None
) -> dict[str, Any]:
    """Begin the drain -> save -> close -> exit sequence; answers 202 at once. Idempotent."""
    return lifecycle.request_shutdown(
        timeout=timeout, reason=(body.reason if body and body.reason else "admin")
    )


@admin_router.get("/admin/status", dependencies=[only_query()])
async def admin_status(lifecycle: Admin) -> dict[str, Any]:
    """Everything: state, work, checks, hook results, last save and restore."""
    return await lifecycle.status()


SDK_ENDPOINTS = frozenset(getattr(route, "endpoint", None) for route in admin_router.routes) - {
    None
}


async def _http_exception(request: Request, exc: Exception) -> Response:
    return await http_exception_handler(request, exc)  # type: ignore[arg-type]


async def _validation_error(request: Request, exc: Exception) -> Response:
    # Not FastAPI's handler: it fails on inputs it cannot encode (a 500 for a bad body).
    return validation_error_response(exc)  # type: ignore[arg-type]


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("admin route %s failed", request.url.path, exc_info=exc)
    return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)


def control_app(metrics: Any = None) -> ASGIApp:
    """The admin router on its own, with FastAPI's error handlers (used by the middleware).

    ``metrics`` (a ``LifecycleMetrics``) adds ``/metrics`` in Prometheus text format.
    """
    # The same inner stack FastAPI builds around its router (dependencies with yield need it).
    router: ASGIApp = AsyncExitStackMiddleware(admin_router)
    if metrics is not None:
        router = metrics.wrap(router)
    return ExceptionMiddleware(
        router,
        handlers={
            StarletteHTTPException: _http_exception,
            RequestValidationError: _validation_error,
            Exception: _unexpected,
        },
    )
