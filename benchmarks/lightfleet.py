"""A fleet of light services (:mod:`benchmarks.apps.light`) in dependency levels.

Each service has a known boot time and drain time (fixed seed). The fleet can be
restarted by ``restartctl`` or by :meth:`LightFleet.restart_directly`, which
drives the same levels as fast as the processes allow (5 ms polls, no checks)
and times every stop and every boot-to-ready: the physical limit's inputs,
measured in the same run.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.fleetgen import TOKEN_ENV, layered_dag, write_fleet
from benchmarks.processes import child_env, free_port
from benchmarks.results import REPO_ROOT
from restart_orchestrator.backends.process import is_alive

TOKEN = "bench-token"


@dataclass(frozen=True)
class LightSpec:
    name: str
    port: int
    boot_s: float
    drain_s: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "benchmarks.apps.light",
            f"--port={self.port}",
            f"--name={self.name}",
            f"--boot={self.boot_s}",
            f"--drain={self.drain_s}",
        ]


class LightFleet:
    """Services ``l<level>-svc-<n>``; each depends on 1-2 services of the level below."""

    def __init__(self, widths: Sequence[int], *, seed: int, directory: Path, min_healthy_s: float):
        rng = random.Random(seed)
        self.deps = layered_dag(widths, seed=seed)
        self.specs = {
            name: LightSpec(
                name, free_port(), round(rng.uniform(0.2, 1.0), 2), round(rng.uniform(0.1, 0.5), 2)
            )
            for name in self.deps
        }
        self.directory = directory
        self.min_healthy_s = min_healthy_s
        self.env = {TOKEN_ENV: TOKEN}
        self.config = write_fleet(
            directory / "fleet.toml",
            name="light",
            deps=self.deps,
            backends={name: self._backend(spec) for name, spec in self.specs.items()},
            urls={name: spec.url for name, spec in self.specs.items()},
            state_dir=directory / "state",
            service_options={
                "shutdown_grace": "10s",
                "startup_deadline": "30s",
                "min_healthy": f"{round(min_healthy_s * 1000)}ms",
            },
        )

    def _backend(self, spec: LightSpec) -> dict[str, object]:
        return {
            "kind": "http",
            "start_command": spec.argv(),
            "cwd": str(REPO_ROOT),
            "env": {"PYTHONPATH": str(REPO_ROOT)},
            "pid_file": str(self._pid_file(spec.name)),
            "log_file": str(self.directory / f"{spec.name}.log"),
        }

    def _pid_file(self, name: str) -> Path:
        return self.directory / f"{name}.pid"

    def _launch(self, spec: LightSpec) -> None:
        with (self.directory / f"{spec.name}.log").open("ab") as log:
            process = subprocess.Popen(
                spec.argv(),
                cwd=REPO_ROOT,
                env=child_env(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pid_file(spec.name).write_text(f"{process.pid}\n")
        # Reap it when it exits, so that it never lingers as a zombie.
        threading.Thread(target=process.wait, daemon=True).start()

    def start_all(self, timeout: float = 60.0) -> None:
        """Launch every service not already answering, and wait until all are ready."""
        with httpx.Client(timeout=1.0) as client:
            for spec in self.specs.values():
                if not _ready(client, spec):
                    self._launch(spec)
            deadline = time.monotonic() + timeout
            for spec in self.specs.values():
                while not _ready(client, spec):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"light service {spec.name} did not start")
                    time.sleep(0.02)

    def stop_all(self) -> None:
        """SIGTERM every service (by its pid file) and wait for them to exit."""
        pids = []
        for name in self.specs:
            with contextlib.suppress(OSError, ValueError):
                pid = int(self._pid_file(name).read_text().strip())
                os.kill(pid, signal.SIGTERM)
                pids.append(pid)
        deadline = time.monotonic() + 15
        while pids and time.monotonic() < deadline:
            pids = [pid for pid in pids if is_alive(pid)]
            time.sleep(0.05)

    def restart_directly(
        self, shutdown_levels: Sequence[Sequence[str]], startup_levels: Sequence[Sequence[str]]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Restart level by level as fast as possible: (stop seconds, boot-to-ready seconds)."""
        stop_s: dict[str, float] = {}
        boot_s: dict[str, float] = {}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(timeout=5.0) as client:
            for level in shutdown_levels:
                asked: dict[str, tuple[float, int]] = {}
                for name in level:
                    started = time.perf_counter()
                    reply = client.post(self.specs[name].url + "/admin/shutdown", headers=headers)
                    asked[name] = (started, int(reply.json()["pid"]))
                while asked:
                    for name, (started, pid) in list(asked.items()):
                        if not is_alive(pid):
                            stop_s[name] = time.perf_counter() - started
                            del asked[name]
                    time.sleep(0.005)
            for level in startup_levels:
                launched: dict[str, float] = {}
                for name in level:
                    launched[name] = time.perf_counter()
                    self._launch(self.specs[name])
                while launched:
                    for name, started in list(launched.items()):
                        if _ready(client, self.specs[name]):
                            boot_s[name] = time.perf_counter() - started
                            del launched[name]
                    time.sleep(0.005)
        return stop_s, boot_s


def _ready(client: httpx.Client, spec: LightSpec) -> bool:
    try:
        return client.get(spec.url + "/health/ready").status_code == 200
    except httpx.HTTPError:
        return False
