"""Small live fleets for the fault and lock tests: the fuzz app under uvicorn, http backend.

Each service is a real uvicorn process started and stopped by ``restartctl``
through the real http backend; ``restartctl`` runs in-process (CliRunner) or as
a real process when a test must kill it or race two of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from restart_orchestrator.backends.process import _LAUNCHED
from restart_orchestrator.cli import cli
from restart_orchestrator.config import load_fleet
from restart_orchestrator.run import build_backend
from tests.hardening.conftest import FUZZ_APP, TOKEN
from tests.hardening.fleet_strategies import to_toml
from tests.support import free_port
from tests.support.processes import REPO_ROOT

RESTARTCTL = Path(sys.executable).parent / "restartctl"
TOKEN_ENV = "HARDENING_ADMIN_TOKEN"


@dataclass
class MiniFleet:
    """A fleet file plus the processes it describes; ``services`` maps name -> depends_on."""

    root: Path
    services: dict[str, list[str]] = field(default_factory=lambda: {"svc": []})
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.root / "fleet.toml"

    @property
    def journal(self) -> Path:
        return self.root / "journal.json"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def write(
        self,
        *,
        lock: str | None = None,
        state_store: str | None = None,
        checks: list[dict[str, Any]] | None = None,
        gate_wait: str = "3s",
        env: dict[str, str] | None = None,
        service: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Write the fleet file; ``env`` goes to every service, ``service`` into each table."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.ports = self.ports or {name: free_port() for name in self.services}
        store = state_store or str(self.root / "state")
        fleet: dict[str, Any] = {
            "name": "hardening",
            "state_store": store,
            "journal": str(self.journal),
            "lock": {"location": lock or str(self.root / "fleet.lock"), "ttl": "1h"},
            "window": {"start": "00:00", "end": "00:00"},
            "gate": {"max_wait": gate_wait, "poll_interval": "0.2s", "max_poll_interval": "0.5s"},
            "checks": checks or [],
            "services": {},
            **(extra or {}),
        }
        for name, depends_on in self.services.items():
            service_env = {
                "TEST_SERVICE": name,
                "SHUTDOWN_ADMIN_TOKEN": TOKEN,
                "SHUTDOWN_STATE_STORE": store,
                "SHUTDOWN_STATE_FALLBACK_DIR": str(self.root / "fallback"),
                "SHUTDOWN_DRAIN_DEADLINE": "5",
                "TEST_BLOCK_FILE": str(self.root / f"{name}.block"),
                **(env or {}),
            }
            port = str(self.ports[name])
            command = [sys.executable, "-m", "uvicorn", FUZZ_APP, "--port", port]
            command += ["--log-level", "warning"]
            fleet["services"][name] = {
                "url": self.url(name),
                "token_env": TOKEN_ENV,
                "depends_on": depends_on,
                "shutdown_grace": "3s",
                "startup_deadline": "20s",
                "min_healthy": "0.3s",
                "request_timeout": "2s",
                "backend": {
                    "kind": "http",
                    "start_command": command,
                    "cwd": str(REPO_ROOT),
                    "env": service_env,
                    "pid_file": str(self.root / f"{name}.pid"),
                    "log_file": str(self.root / f"{name}.log"),
                    "exit_margin_s": 3,
                    "kill_wait_s": 5,
                },
                **(service or {}),
            }
        self.config.write_text(to_toml(fleet))
        return self.config

    def block_gate(self, name: str, blocked: bool = True) -> None:
        path = self.root / f"{name}.block"
        path.touch() if blocked else path.unlink(missing_ok=True)

    def start_all(self) -> None:
        fleet = load_fleet(self.config)

        async def start() -> None:
            for name in self.services:
                backend = build_backend(fleet, name, TOKEN)
                await backend.start()
                await backend.aclose()

        asyncio.run(start())
        for name in self.services:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url(name) + "/health/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{name} not ready in {timeout} s:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"

    def pid(self, name: str) -> int:
        return int((self.root / f"{name}.pid").read_text().split()[0])

    def get(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.get(self.url(name) + path, headers=headers, timeout=5, **kwargs)

    def put_position(self, name: str, symbol: str, quantity: float) -> None:
        url = f"{self.url(name)}/positions/{symbol}"
        httpx.put(url, params={"quantity": quantity}, timeout=5).raise_for_status()

    def invoke(self, *args: str) -> Result:
        """``restartctl <command> -c fleet.toml --output json ...`` in-process."""
        command, *rest = args
        output = ["--output", "json"] if command in ("run", "restart", "recover") else []
        return CliRunner().invoke(cli, [command, "-c", str(self.config), *output, *rest])

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """``restartctl`` as a real process (JSON lines on stdout)."""
        command, *rest = args
        env = {**os.environ, TOKEN_ENV: TOKEN, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(
            [str(RESTARTCTL), command, "-c", str(self.config), *rest],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO_ROOT,
        )

    def kill_all(self) -> None:
        for name in self.services:
            pid_file = self.root / f"{name}.pid"
            if pid_file.exists():
                with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                    os.killpg(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        for process in list(_LAUNCHED.values()):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        _LAUNCHED.clear()


def json_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for line in output.splitlines():
        with contextlib.suppress(ValueError):
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines
