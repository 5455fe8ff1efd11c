"""Graceful pause, drain, state save and shutdown for FastAPI services.

>>> from fastapi import FastAPI
>>> from shutdown_sdk import Lifecycle, admin_router
>>> lifecycle = Lifecycle("execution")
>>> app = FastAPI(lifespan=lifecycle.lifespan)
>>> lifecycle.install(app)
>>> app.include_router(admin_router)
"""

from shutdown_sdk._blockers import queue_lag_blocker
from shutdown_sdk._checks import http_check, postgres_check, redis_check
from shutdown_sdk._hooks import HookResult
from shutdown_sdk._lifecycle import Lifecycle, LifecycleConflict, RestoreError
from shutdown_sdk._middleware import LifecycleMiddleware
from shutdown_sdk._routes import admin_router
from shutdown_sdk._settings import ShutdownSettings
from shutdown_sdk._snapshot import Snapshot, SnapshotError
from shutdown_sdk._state import LifecycleState
from shutdown_sdk._stores import (
    FileStateStore,
    RedisStateStore,
    SaveReceipt,
    StateStore,
    open_state_store,
)
from shutdown_sdk._work import WorkUnit

__version__ = "0.1.0"

__all__ = [
    "FileStateStore",
    "HookResult",
    "Lifecycle",
    "LifecycleConflict",
    "LifecycleMiddleware",
    "LifecycleState",
    "RedisStateStore",
    "RestoreError",
    "SaveReceipt",
    "ShutdownSettings",
    "Snapshot",
    "SnapshotError",
    "StateStore",
    "WorkUnit",
    "__version__",
    "admin_router",
    "http_check",
    "open_state_store",
    "postgres_check",
    "queue_lag_blocker",
    "redis_check",
]
