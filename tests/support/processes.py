"""Real server processes for tests (uvicorn, gunicorn, hypercorn), in the style of
uvicorn's own ``run_server()`` test helper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def wait_for_http(url: str, *, timeout: float = 20.0, status: int | None = 200) -> httpx.Response:
    """Poll ``url`` until it answers (with ``status`` when given) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last: Exception | str = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=1.0)
            if status is None or response.status_code == status:
                return response
            last = f"status {response.status_code}"
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer in {timeout} s: {last}")


class ServerProcess:
    """A server started as a child process; output goes to a log file for the report.

    ``argv`` is the command after ``python -m``, e.g. ``["uvicorn", "app:app", "--port", "8001"]``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str] | None = None,
        log_path: Path,
        cwd: Path | None = None,
    ) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), full_env.get("PYTHONPATH")])
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", *argv],
            env=full_env,
            cwd=cwd or REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, path: str = "/health/live", timeout: float = 20.0) -> None:
        try:
            wait_for_http(self.base_url + path, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"server did not start; its output:\n{self.output()}") from None

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
