"""A live test fleet: three SDK services under real uvicorn processes, driven by restartctl.

    risk  <-  execution  <-  ai (pause_first)

Services are started and stopped through the real ``http`` backend (stop via
``/admin/shutdown``, start a detached uvicorn, pid files), their state goes to
a file state store, the fleet's events to the test Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from supervisor.xmlrpc import SupervisorTransport

from restart_orchestrator.backends.process import _LAUNCHED
from restart_orchestrator.config import Fleet, load_fleet
from restart_orchestrator.run import build_backend
from tests.support import free_port
from tests.support.processes import REPO_ROOT

TOKEN = "test-admin-token"
SERVICES = {"risk": [], "execution": ["risk"], "ai": ["execution"]}


@dataclass
class LiveFleet:
    """Paths, ports and helpers of one test fleet."""

    root: Path
    redis_url: str
    key_prefix: str
    ports: dict[str, int] = field(default_factory=dict)
    backend_kind: str = "http"
    supervisord: subprocess.Popen[bytes] | None = None
    supervisor_dir: Path | None = None
    _programs: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.root / "fleet.toml"

    @property
    def control(self) -> Path:
        return self.root / "control"

    @property
    def journal(self) -> Path:
        return self.root / "journal.json"

    @property
    def stream(self) -> str:
        return f"{self.key_prefix}:events"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def write(
        self,
        *,
        gate_wait: str = "5s",
        window: str = 'start = "00:00"\nend = "00:00"',
        startup_deadline: dict[str, str] | None = None,
        shutdown_grace: dict[str, str] | None = None,
        extra: str = "",
        backend_kind: str = "http",
        state: str = "file",
    ) -> Path:
        """Write the fleet file (the window is all day unless given; ``extra`` is appended)."""
        self.backend_kind = backend_kind
        self.control.mkdir(parents=True, exist_ok=True)
        if backend_kind == "supervisor" and self.supervisor_dir is None:
            # A short path: Unix socket paths are limited to about 100 bytes.
            self.supervisor_dir = Path(tempfile.mkdtemp(prefix="rc-sv-", dir="/tmp"))
        if not self.ports:
            self.ports = {name: free_port() for name in SERVICES}
        store = self.redis_url if state == "redis" else str(self.root / "state")
        deadlines = startup_deadline or {}
        graces = shutdown_grace or {}
        lines = [
            'name = "test-fleet"',
            f'state_store = "{store}"',
            f'state_key_prefix = "{self.key_prefix}:sdk"',
            f'journal = "{self.journal}"',
            f'[lock]\nlocation = "{self.root / "fleet.lock"}"\nttl = "1h"',
            f"[window]\n{window}",
            f'[gate]\nmax_wait = "{gate_wait}"\npoll_interval = "0.2s"\nmax_poll_interval = "0.5s"',
            f'[notifications]\nredis_url = "{self.redis_url}"\nstream = "{self.stream}"',
            f'[[checks]]\nkind = "redis"\nname = "redis"\nurl = "{self.redis_url}"',
        ]
        for name, depends_on in SERVICES.items():
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.orchestrator.apps.trading:app",
                "--port",
                str(self.ports[name]),
                "--log-level",
                "warning",
            ]
            env = {
                "TEST_SERVICE": name,
                "TEST_CONTROL_DIR": str(self.control),
                "SHUTDOWN_ADMIN_TOKEN": TOKEN,
                "SHUTDOWN_STATE_STORE": store,
                "SHUTDOWN_KEY_PREFIX": f"{self.key_prefix}:sdk",
                "SHUTDOWN_DRAIN_DEADLINE": "5",
            }
            pid_file, log_file = self.root / f"{name}.pid", self.root / f"{name}.log"
            backend: dict[str, Any]
            if backend_kind == "http":
                backend = {
                    "kind": "http",
                    "start_command": command,
                    "cwd": str(REPO_ROOT),
                    "env": env,
                    "pid_file": str(pid_file),
                    "log_file": str(log_file),
                    "exit_margin_s": 1.5,
                    "kill_wait_s": 5,
                }
            elif backend_kind == "supervisor":
                assert self.supervisor_dir is not None
                backend = {
                    "kind": "supervisor",
                    "url": f"unix://{self.supervisor_dir}/supervisor.sock",
                    "program": name,
                    "rpc_margin_s": 5,
                }
                self._programs[name] = (command, env)
            else:  # plain shell commands, as for systemctl or docker compose
                backend = {
                    "kind": "command",
                    "start": f"nohup {shlex.join(command)} >> {log_file} 2>&1 & "
                    f"echo $! > {pid_file}",
                    "stop": f"kill -TERM $(cat {pid_file})",
                    "status": f"kill -0 $(cat {pid_file}) 2>/dev/null",
                    "kill_command": f"kill -KILL $(cat {pid_file})",
                    "cwd": str(REPO_ROOT),
                    "env": env,
                }
            lines.append(
                f"[services.{name}]\n"
                f'url = "{self.url(name)}"\n'
                'token_env = "TEST_ADMIN_TOKEN"\n'
                f"depends_on = {json.dumps(depends_on)}\n"
                f"pause_first = {'true' if name == 'ai' else 'false'}\n"
                f'shutdown_grace = "{graces.get(name, "3s")}"\n'
                f'startup_deadline = "{deadlines.get(name, "15s")}"\n'
                'min_healthy = "0.3s"\n'
                f"backend = {_inline(backend)}"
            )
        self.config.write_text("\n".join(lines) + "\n" + extra)
        return self.config

    def fleet(self) -> Fleet:
        return load_fleet(self.config)

    def set_flag(self, service: str, name: str, on: bool = True) -> None:
        path = self.control / f"{service}.{name}"
        if on:
            path.touch()
        else:
            path.unlink(missing_ok=True)

    def start_all(self) -> None:
        """Start every service through its backend and wait until all are ready."""
        if self.backend_kind == "supervisor":
            self.start_supervisord()
            for name in SERVICES:
                self.wait_ready(name)
            return
        fleet = self.fleet()

        async def start() -> None:
            for name in SERVICES:
                backend = build_backend(fleet, name, TOKEN)
                await backend.start()
                await backend.aclose()

        asyncio.run(start())
        for name in SERVICES:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url(name) + "/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        log = (self.root / f"{name}.log").read_text(errors="replace")
        raise TimeoutError(f"{name} not ready in {timeout} s; log:\n{log}")

    def pid(self, name: str) -> int:
        if self.backend_kind == "supervisor":
            proxy = self._supervisor()
            try:
                return int(proxy.supervisor.getProcessInfo(name)["pid"])
            finally:
                proxy("close")()
        return int((self.root / f"{name}.pid").read_text().split()[0])

    def _supervisor(self) -> Any:
        socket = f"unix://{self.supervisor_dir}/supervisor.sock"
        return xmlrpc.client.ServerProxy(
            "http://127.0.0.1", transport=SupervisorTransport(None, None, socket)
        )

    def start_supervisord(self) -> None:
        """A real supervisord running the three services (SIGTERM stops, grace 3 s)."""
        assert self.supervisor_dir is not None
        sections = [
            "[unix_http_server]\nfile=%(here)s/supervisor.sock",
            "[supervisord]\nlogfile=%(here)s/supervisord.log\npidfile=%(here)s/supervisord.pid\n"
            "childlogdir=%(here)s\nnodaemon=true",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        ]
        for name, (command, env) in self._programs.items():
            environment = ",".join(f'{key}="{value}"' for key, value in env.items())
            sections.append(
                f"[program:{name}]\ncommand={shlex.join(command)}\ndirectory={REPO_ROOT}\n"
                f"environment={environment}\nautostart=true\nautorestart=false\n"
                "startsecs=1\nstartretries=0\nstopwaitsecs=3\n"
                f"stdout_logfile={self.root / name}.log\nredirect_stderr=true"
            )
        config = self.supervisor_dir / "supervisord.conf"
        config.write_text("\n\n".join(sections) + "\n")
        self.supervisord = subprocess.Popen(
            [str(Path(sys.executable).parent / "supervisord"), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not (self.supervisor_dir / "supervisor.sock").exists():
            if self.supervisord.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"supervisord did not start (exit {self.supervisord.poll()})")
            time.sleep(0.05)

    def stop_supervisord(self) -> None:
        if self.supervisord is None:
            return
        proxy = self._supervisor()
        with contextlib.suppress(Exception):
            proxy.supervisor.signalAllProcesses("KILL")
        proxy("close")()
        self.supervisord.terminate()
        try:
            self.supervisord.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.supervisord.kill()
            self.supervisord.wait()
        self.supervisord = None
        if self.supervisor_dir is not None:
            shutil.rmtree(self.supervisor_dir, ignore_errors=True)

    def book(self, name: str) -> dict[str, Any]:
        response = httpx.get(self.url(name) + "/book", timeout=5)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def health(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(self.url(name) + "/health", timeout=5).json()
        return data

    def events(self) -> list[str]:
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            entries: Any = client.xrange(self.stream)
            return [fields["type"] for _, fields in entries]
        finally:
            client.close()

    def kill_all(self) -> None:
        self.stop_supervisord()
        for name in SERVICES:
            pid_file = self.root / f"{name}.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text().split()[0])
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        # Reap what the http backend launched from this process (no zombies, no warnings).
        for process in list(_LAUNCHED.values()):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        _LAUNCHED.clear()


def _inline(value: Any) -> str:
    """A TOML inline value (tables, arrays, strings, numbers)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)
