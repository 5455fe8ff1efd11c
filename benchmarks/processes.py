"""Server processes for the benchmarks: free ports, CPU pinning, uvicorn children."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from benchmarks.results import OUTPUT_DIR, REPO_ROOT


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_plan() -> tuple[set[int] | None, set[int] | None]:
    """(server cores, load-generator cores): one core each when two are available.

    ``(None, None)`` where pinning is unavailable (not Linux, or a single core):
    the benchmarks still run, the report says the processes were not pinned.
    """
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return None, None
    cores = sorted(getter(0))
    if len(cores) < 2:
        return None, None
    return {cores[0]}, {cores[1]}


def pin_self(cores: set[int] | None) -> None:
    if cores is not None:
        os.sched_setaffinity(0, cores)


def pinned(cores: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning the child before it execs (threads it starts inherit it)."""
    if cores is None:
        return None
    return lambda: os.sched_setaffinity(0, cores)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


class Uvicorn:
    """``python -m uvicorn <app>`` on a free port: one worker, no access log, optionally pinned."""

    def __init__(
        self,
        app: str,
        *,
        name: str,
        cores: set[int] | None = None,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = OUTPUT_DIR / f"{name}.log"
        self._log = self.log_path.open("wb")
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            *extra_args,
        ]
        self.process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=child_env(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=pinned(cores),
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, path: str, *, timeout: float = 30.0) -> None:
        # Imported here: the load generator's process imports this module, and httpx
        # would add most of a second to each of its starts.
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at startup:\n{self.output()}")
            try:
                if httpx.get(self.base_url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
