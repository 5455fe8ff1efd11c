"""Fixtures for the backend tests: a real supervisord and SDK apps under uvicorn."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from supervisor.xmlrpc import SupervisorTransport

from tests.support import free_port
from tests.support.processes import REPO_ROOT

APPS = Path(__file__).parent / "apps"
ADMIN_TOKEN = "backend-test-token"
SUPERVISORD = Path(sys.executable).parent / "supervisord"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def uvicorn_argv(app: str, port: int) -> list[str]:
    """``python -m`` arguments serving ``apps/<module>:app`` on ``port``."""
    return [
        "uvicorn", app, "--app-dir", str(APPS), "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning",
    ]  # fmt: skip


def sdk_env(state_dir: Path, drain_deadline: float = 5.0) -> dict[str, str]:
    return {
        "SHUTDOWN_ADMIN_TOKEN": ADMIN_TOKEN,
        "SHUTDOWN_STATE_STORE": str(state_dir),
        "SHUTDOWN_STATE_FALLBACK_DIR": str(state_dir),
        "SHUTDOWN_DRAIN_DEADLINE": str(drain_deadline),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Supervisord:
    """A supervisord the tests started, with its socket, inet URL and credentials."""

    workdir: Path
    socket_url: str
    http_url: str
    username: str
    password: str
    sdk_port: int
    process: subprocess.Popen[bytes]

    @property
    def state_dir(self) -> Path:
        return self.workdir / "state"

    def log(self) -> str:
        return (self.workdir / "supervisord.log").read_text(errors="replace")


def _program(name: str, command: str, **options: object) -> str:
    settings = {
        "command": command,
        "autostart": "true",
        "autorestart": "false",
        "startsecs": "1",
        "startretries": "0",
        "stopwaitsecs": "5",
        "stdout_logfile": f"%(here)s/{name}.out.log",
        "stderr_logfile": f"%(here)s/{name}.err.log",
        **{key: str(value).lower() if isinstance(value, bool) else str(value)
           for key, value in options.items()},
    }  # fmt: skip
    lines = [f"[program:{name}]", *(f"{key}={value}" for key, value in settings.items())]
    return "\n".join(lines)


@contextlib.contextmanager
def running_supervisord(
    workdir: Path, sections: list[str], *, loglevel: str = "info", http_port: int, sdk_port: int
) -> Iterator[Supervisord]:
    """Run supervisord in ``workdir`` with ``sections`` (programs, groups) until the block ends."""
    config = "\n\n".join(
        [
            "[unix_http_server]\nfile=%(here)s/supervisor.sock",
            f"[inet_http_server]\nport=127.0.0.1:{http_port}\nusername=ops\npassword=s3cret",
            "[supervisord]\nlogfile=%(here)s/supervisord.log\npidfile=%(here)s/supervisord.pid\n"
            f"childlogdir=%(here)s\nloglevel={loglevel}\nnodaemon=true",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            *sections,
        ]
    )
    (workdir / "supervisord.conf").write_text(config + "\n")
    process = subprocess.Popen(
        [str(SUPERVISORD), "-c", str(workdir / "supervisord.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = Supervisord(
        workdir=workdir,
        socket_url=f"unix://{workdir}/supervisor.sock",
        http_url=f"http://127.0.0.1:{http_port}/RPC2",
        username="ops",
        password="s3cret",
        sdk_port=sdk_port,
        process=process,
    )
    deadline = time.monotonic() + 20
    while not (workdir / "supervisor.sock").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            log = workdir / "supervisord.log"
            pytest.fail(
                "supervisord did not start: "
                + (log.read_text() if log.exists() else f"exit {process.returncode}")
            )
        time.sleep(0.05)
    try:
        yield server
    finally:
        # Programs ignoring SIGTERM would hold supervisord's own shutdown for their stopwaitsecs.
        proxy = xmlrpc.client.ServerProxy(
            "http://127.0.0.1", transport=SupervisorTransport(None, None, server.socket_url)
        )
        with contextlib.suppress(Exception):
            proxy.supervisor.signalAllProcesses("KILL")
        proxy("close")()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _workdir() -> Path:
    # A short path: Unix socket paths are limited to about 100 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="sv-", dir="/tmp"))
    (workdir / "state").mkdir()
    return workdir


@pytest.fixture(scope="module")
def supervisord() -> Iterator[Supervisord]:
    """A real supervisord (unix socket + password-protected inet server) running test programs.

    Programs: ``gentle`` (exits on SIGTERM), ``stubborn`` (ignores SIGTERM, stopwaitsecs=1),
    ``patient`` (ignores SIGTERM, stopwaitsecs=60: supervisord would wait too long),
    ``crasher`` (fails at once), ``missing`` (no such command), ``worker`` in group
    ``fleet``, and ``sdk`` (an SDK app under uvicorn).
    """
    workdir = _workdir()
    sdk_port = free_port()
    python = sys.executable
    env_pairs = (
        ",".join(f'{key}="{value}"' for key, value in sdk_env(workdir / "state").items())
        + f',PYTHONPATH="{REPO_ROOT}"'
    )
    sections = [
        _program("gentle", f"{python} {APPS}/gentle.py"),
        _program("stubborn", f"{python} {APPS}/stubborn.py", stopwaitsecs=1),
        _program("patient", f"{python} {APPS}/stubborn.py", stopwaitsecs=60),
        _program("crasher", f"{python} {APPS}/crasher.py", autostart=False),
        _program("missing", "/nonexistent/bin/trading-service", autostart=False),
        _program("worker", f"{python} {APPS}/gentle.py", autostart=False),
        "[group:fleet]\nprograms=worker",
        _program(
            "sdk",
            f"{python} -m " + " ".join(uvicorn_argv("sdk_app:app", sdk_port)),
            stopwaitsecs=15,
            environment=env_pairs,
            directory=str(workdir),
        ),
    ]
    with running_supervisord(workdir, sections, http_port=free_port(), sdk_port=sdk_port) as server:
        yield server


@pytest.fixture(scope="module")
def quiet_supervisord() -> Iterator[Supervisord]:
    """A supervisord logging errors only: its log never says how a program stopped."""
    python = sys.executable
    sections = [
        _program("gentle", f"{python} {APPS}/gentle.py"),
        _program("stubborn", f"{python} {APPS}/stubborn.py", stopwaitsecs=1),
    ]
    with running_supervisord(
        _workdir(), sections, loglevel="error", http_port=free_port(), sdk_port=0
    ) as server:
        yield server
