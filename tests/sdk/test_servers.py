"""The same exit under the other servers users run: gunicorn with uvicorn workers, hypercorn."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from tests.sdk.conftest import AUTH, StartService
from tests.support import free_port

APP = "tests.sdk.apps.slow_service:app"


def _argv(server: str, port: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    if server == "gunicorn":
        return ["gunicorn", APP, "-k", "uvicorn.workers.UvicornWorker", "-w", "2", "-b", bind]
    return ["hypercorn", APP, "--bind", bind]


@pytest.mark.parametrize("server", ["gunicorn", "hypercorn"])
@pytest.mark.parametrize("stop", ["admin", "sigterm"])
def test_exit_sequence_under_other_servers(
    start_service: StartService, tmp_path: Path, server: str, stop: str
) -> None:
    """
    1. The app runs under gunicorn (2 uvicorn workers) or hypercorn.
    2. An order of 1 s is accepted, then the service is stopped (admin call or SIGTERM).
    Result: the whole server exits and the order is in a saved snapshot.
    """
    port = free_port()
    state_dir = tmp_path / "state"
    process = start_service(server_argv=_argv(server, port), port=port, state_dir=state_dir)
    accepted = httpx.post(f"{process.base_url}/orders/o-1", params={"seconds": 1}, timeout=5)
    assert accepted.status_code == 200
    if stop == "admin":
        assert httpx.post(f"{process.base_url}/admin/shutdown", headers=AUTH).status_code == 202
    else:
        process.signal(signal.SIGTERM)
    process.wait_exit(60)
    output = process.output()
    assert "closing -> stopped" in output, output
    snapshot = json.loads((state_dir / "slow-service.snapshot.json").read_text())
    if server == "hypercorn":
        assert snapshot["state"]["counter"]["orders"] == ["o-1"]
    else:
        # Two workers each save their own view; the one that took the order drained it.
        assert "drained in" in output
