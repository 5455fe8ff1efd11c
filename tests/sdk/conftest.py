"""Fixtures for the SDK's process tests: run ``slow_service`` under a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, free_port

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

StartService = Callable[..., ServerProcess]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Start ``tests.sdk.apps.slow_service`` under uvicorn (or ``server_argv``); stop at the end."""
    started: list[ServerProcess] = []

    def start(
        *,
        env: dict[str, str] | None = None,
        server_argv: list[str] | None = None,
        state_dir: Path | None = None,
        port: int | None = None,
    ) -> ServerProcess:
        port = port or free_port()
        argv = server_argv or ["uvicorn", "tests.sdk.apps.slow_service:app"]
        argv = [*argv, "--port", str(port)] if argv[0] == "uvicorn" else argv
        if argv[0] == "uvicorn":
            argv += ["--host", "127.0.0.1", "--no-access-log"]
        full_env = {
            "SHUTDOWN_ADMIN_TOKEN": TOKEN,
            "SHUTDOWN_STATE_STORE": str(state_dir or tmp_path / "state"),
            "SHUTDOWN_STATE_FALLBACK_DIR": str(tmp_path / "fallback"),
            "SHUTDOWN_DRAIN_DEADLINE": "20",
            **(env or {}),
        }
        server = ServerProcess(
            argv, port=port, env=full_env, log_path=tmp_path / f"server-{len(started)}.log"
        )
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
