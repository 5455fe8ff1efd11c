"""Helpers shared by the test suites: free ports, real Redis/PostgreSQL, uvicorn processes."""

from tests.support.infra import (
    RedisServer,
    free_port,
    postgres_dsn_or_fail,
    redis_server_or_fail,
)
from tests.support.processes import ServerProcess, wait_for_http

__all__ = [
    "RedisServer",
    "ServerProcess",
    "free_port",
    "postgres_dsn_or_fail",
    "redis_server_or_fail",
    "wait_for_http",
]
