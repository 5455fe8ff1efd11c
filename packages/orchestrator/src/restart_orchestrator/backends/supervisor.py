"""Stop and start a program through supervisord's XML-RPC API.

    [services.execution.backend]
    kind = "supervisor"
    url = "unix:///run/supervisor.sock"     # or http://127.0.0.1:9001/RPC2
    program = "fleet:execution"              # default: the service name

``stop`` calls ``supervisor.stopProcess(program, wait=True)``: supervisord
sends the program's ``stopsignal`` (SIGTERM, which the SDK turns into drain ->
save -> close), waits ``stopwaitsecs`` and then sends SIGKILL. Set
``stopwaitsecs`` to the service's ``shutdown_grace_s`` (plus the time it needs
to save state). A stop counts as *forced* when supervisord's main log says it
sent SIGKILL to that pid (or, when the log cannot be read, when the stop took
the whole grace period). Should supervisord still be waiting when our own
bound (grace + ``rpc_margin_s``) passes, we send SIGKILL through
``signalProcess`` ourselves.

``start`` calls ``startProcess(program, wait=True)``, which returns once the
program stayed up ``startsecs``; a program that dies on start fails with the
tail of its stderr log. The blocking XML-RPC calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import re
import socket
import time
import xmlrpc.client
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from restart_orchestrator.backends.base import (
    Backend,
    BackendConfig,
    BackendError,
    ProcessState,
    StopResult,
)

# supervisor.xmlrpc.Faults (stable since supervisor 3.0)
BAD_NAME = 10
NO_FILE = 20
NOT_EXECUTABLE = 21
FAILED = 30
ABNORMAL_TERMINATION = 40
SPAWN_ERROR = 50
ALREADY_STARTED = 60
NOT_RUNNING = 70

_STATES = {
    "STOPPED": ProcessState.STOPPED,
    "STARTING": ProcessState.STARTING,
    "RUNNING": ProcessState.RUNNING,
    "BACKOFF": ProcessState.FAILED,  # exited too quickly, retrying: a crash loop
    "STOPPING": ProcessState.STOPPING,
    "EXITED": ProcessState.FAILED,  # exited on its own
    "FATAL": ProcessState.FAILED,  # gave up starting it
    "UNKNOWN": ProcessState.UNKNOWN,
}
_RUNNING = {"STARTING", "RUNNING", "BACKOFF", "STOPPING"}
_LOG_TAIL_BYTES = 64 * 1024


class SupervisorBackendConfig(BackendConfig):
    """Where supervisord listens and which program is the service."""

    kind: Literal["supervisor"] = "supervisor"
    url: str = Field(
        default="http://127.0.0.1:9001/RPC2",
        description="http://host:port/RPC2 (inet_http_server) or unix:///path/to/supervisor.sock",
    )
    program: str | None = Field(
        default=None, description="Process name or group:name; default: the service name."
    )
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = Field(
        default=None, description="Environment variable holding the password (instead of password)."
    )
    rpc_margin_s: float = Field(
        default=10.0, gt=0, description="Added to the grace to bound the stop call."
    )
    start_timeout_s: float = Field(
        default=60.0, gt=0, description="Bound on startProcess (covers startsecs)."
    )
    call_timeout_s: float = Field(default=5.0, gt=0, description="Bound on quick calls.")
    kill_wait_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https", "unix") or not (parts.netloc or parts.path):
            raise ValueError("expected http://host:port/RPC2 or unix:///path/to/supervisor.sock")
        return value


class SupervisorBackend(Backend):
    """A program under supervisord."""

    kind = "supervisor"
    config_model = SupervisorBackendConfig
    config: SupervisorBackendConfig

    @property
    def program(self) -> str:
        return self.config.program or self.target.name

    async def stop(self) -> StopResult:
        started = time.monotonic()
        grace = self.target.shutdown_grace_s
        info = await self._info()
        if info["statename"] not in _RUNNING:
            return StopResult(True, False, 0.0, f"already stopped ({info['statename']})")
        pid = int(info["pid"])
        stopwaitsecs = (await self._program_config()).get("stopwaitsecs")
        try:
            await self._call(
                "stopProcess", self.program, True, timeout_s=grace + self.config.rpc_margin_s
            )
        except _Timeout:
            await self._kill()
            return StopResult(
                False, True, time.monotonic() - started,
                f"still stopping after {grace + self.config.rpc_margin_s:.1f} s; sent SIGKILL",
            )  # fmt: skip
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != NOT_RUNNING:
                raise self._error(fault) from fault
            return StopResult(True, False, time.monotonic() - started, "already stopped")
        duration = time.monotonic() - started
        forced, how = await self._how_it_stopped(pid, duration, stopwaitsecs)
        if isinstance(stopwaitsecs, int) and stopwaitsecs < grace:
            how += (
                f"; note: supervisord's stopwaitsecs ({stopwaitsecs} s) is shorter than the "
                f"grace ({grace:g} s): it kills before the service may finish draining"
            )
        return StopResult(not forced, forced, duration, how)

    async def start(self) -> None:
        # startProcess(wait=True) answers only after startsecs: never time out before that.
        startsecs = (await self._program_config()).get("startsecs")
        timeout = self.config.start_timeout_s
        if isinstance(startsecs, int):
            timeout = max(timeout, startsecs + self.config.rpc_margin_s)
        try:
            await self._call("startProcess", self.program, True, timeout_s=timeout)
        except _Timeout:
            raise BackendError(
                f"{self.program} did not reach RUNNING within {timeout:.0f} s "
                f"(supervisord at {self.config.url})"
            ) from None
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == ALREADY_STARTED:
                if (await self._info())["statename"] == "BACKOFF":
                    raise BackendError(await self._start_failure("is crash-looping")) from fault
                return
            if fault.faultCode == SPAWN_ERROR:
                raise BackendError(await self._start_failure("failed to start")) from fault
            if fault.faultCode == ABNORMAL_TERMINATION:
                raise BackendError(await self._start_failure("exited while starting")) from fault
            raise self._error(fault) from fault

    async def state(self) -> ProcessState:
        info = await self._info()
        return _STATES.get(str(info["statename"]), ProcessState.UNKNOWN)

    # -- supervisord calls -------------------------------------------------------------

    async def _info(self) -> dict[str, Any]:
        try:
            info = await self._call("getProcessInfo", self.program)
        except xmlrpc.client.Fault as fault:
            raise self._error(fault) from fault
        except _Timeout:
            raise self._timeout_error("getProcessInfo", self.config.call_timeout_s) from None
        assert isinstance(info, dict)
        return info

    async def _program_config(self) -> dict[str, Any]:
        """The program's entry of ``getAllConfigInfo`` (supervisor >= 3.3), else ``{}``."""
        group, _, name = self.program.rpartition(":")
        try:
            entries = await self._call("getAllConfigInfo")
        except (xmlrpc.client.Fault, _Timeout):
            return {}
        for entry in entries if isinstance(entries, list) else []:
            if entry.get("name") == name and entry.get("group") == (group or name):
                return dict(entry)
        return {}

    async def _kill(self) -> None:
        try:
            await self._call("signalProcess", self.program, "KILL")
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != NOT_RUNNING:
                raise self._error(fault) from fault
        deadline = time.monotonic() + self.config.kill_wait_s
        while (await self._info())["statename"] in _RUNNING:
            if time.monotonic() > deadline:
                raise BackendError(
                    f"{self.program} not stopped {self.config.kill_wait_s:.0f} s after SIGKILL"
                )
            await asyncio.sleep(0.1)

    async def _how_it_stopped(
        self, pid: int, duration: float, stopwaitsecs: object
    ) -> tuple[bool, str]:
        """Whether supervisord had to SIGKILL ``pid``, and its exit message, from its main log.

        Without a readable log (logfile=syslog, loglevel above warn) the timing decides:
        a stop that took the whole of stopwaitsecs (or the grace) was most likely forced.
        """
        name = re.escape(self.program.rsplit(":", 1)[-1])
        try:
            log = str(await self._call("readLog", -_LOG_TAIL_BYTES, 0))
        except (xmlrpc.client.Fault, _Timeout):
            log = ""
        killed = re.search(rf"killing '{name}' \({pid}\) with SIGKILL", log) is not None
        exits = re.findall(rf"stopped: {name} \(([^)\n]*)\)", log)
        if killed:
            how = exits[-1] if exits else "terminated by SIGKILL"
            return True, f"killed with SIGKILL after stopwaitsecs ({how})"
        if exits:
            return False, exits[-1]
        bound = stopwaitsecs if isinstance(stopwaitsecs, int) else self.target.shutdown_grace_s
        if duration >= bound:
            return True, (
                f"stop took {duration:.1f} s >= {bound:g} s: most likely SIGKILLed "
                "(judged by time: supervisord's log does not say)"
            )
        return False, f"stopped in {duration:.1f} s (supervisord's log does not say how)"

    async def _start_failure(self, why: str) -> str:
        detail = ""
        try:
            info = await self._info()
            detail = str(info.get("spawnerr") or info.get("description") or "")
            tail = str(await self._call("readProcessStderrLog", self.program, -2048, 0)).strip()
            if not tail:  # redirect_stderr=true sends it to the stdout log
                tail = str(await self._call("readProcessStdoutLog", self.program, -2048, 0)).strip()
        except (xmlrpc.client.Fault, _Timeout, BackendError):
            tail = ""
        message = f"{self.program} {why} under supervisord at {self.config.url}"
        if detail:
            message += f" ({detail})"
        return message + (f"; last output:\n{tail}" if tail else "; no output logged")

    async def _call(self, method: str, *args: Any, timeout_s: float | None = None) -> Any:
        timeout = timeout_s or self.config.call_timeout_s
        try:
            return await asyncio.to_thread(self._call_blocking, method, args, timeout)
        except TimeoutError as exc:
            raise _Timeout(method) from exc
        except (ConnectionRefusedError, FileNotFoundError, socket.gaierror) as exc:
            raise BackendError(
                f"supervisord not running at {self.config.url} ({exc.strerror or exc}); "
                "start it or fix the backend's url"
            ) from exc
        except xmlrpc.client.ProtocolError as exc:
            if exc.errcode == 401:
                raise BackendError(
                    f"supervisord at {self.config.url} refused the credentials: "
                    "set username/password as in its [unix_http_server]/[inet_http_server]"
                ) from exc
            raise BackendError(
                f"supervisord at {self.config.url} answered {exc.errcode} {exc.errmsg}"
            ) from exc
        except OSError as exc:
            raise BackendError(f"cannot reach supervisord at {self.config.url}: {exc}") from exc

    def _call_blocking(self, method: str, args: tuple[Any, ...], timeout: float) -> Any:
        proxy_url, transport = _transport(self.config, self._password(), timeout)
        with xmlrpc.client.ServerProxy(proxy_url, transport=transport, allow_none=True) as proxy:
            return getattr(proxy.supervisor, method)(*args)

    def _password(self) -> str:
        if self.config.password_env is not None:
            password = os.environ.get(self.config.password_env)
            if not password:
                raise BackendError(
                    f"environment variable {self.config.password_env} "
                    "(supervisord's password) is not set"
                )
            return password
        return self.config.password.get_secret_value() if self.config.password else ""

    def _error(self, fault: xmlrpc.client.Fault) -> BackendError:
        where = f"supervisord at {self.config.url}"
        if fault.faultCode == BAD_NAME:
            return BackendError(f"no program {self.program} in {where}")
        if fault.faultCode == NO_FILE:
            return BackendError(
                f"{self.program}: command not found ({fault.faultString}) in {where}"
            )
        if fault.faultCode == NOT_EXECUTABLE:
            return BackendError(f"{self.program}: command not executable ({fault.faultString})")
        return BackendError(f"{self.program}: {where} answered {fault.faultString}")

    def _timeout_error(self, method: str, timeout_s: float) -> BackendError:
        return BackendError(
            f"supervisord at {self.config.url} did not answer {method} within {timeout_s:.0f} s"
        )


class _Timeout(Exception):
    """An XML-RPC call outlived its bound (the request may still be in progress)."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _SupervisorTransport(xmlrpc.client.Transport):
    """xmlrpc transport with a timeout, basic auth and optional Unix-socket connection."""

    def __init__(self, timeout: float, socket_path: str | None, headers: list[tuple[str, str]]):
        super().__init__(headers=headers)
        self.timeout = timeout
        self.socket_path = socket_path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        if self.socket_path is not None:
            unix = _UnixHTTPConnection(self.socket_path, self.timeout)
            self._connection = host, unix  # so that close() closes it
            return unix
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


def _transport(
    config: SupervisorBackendConfig, password: str, timeout: float
) -> tuple[str, _SupervisorTransport]:
    headers: list[tuple[str, str]] = []
    if config.username is not None:
        token = base64.b64encode(f"{config.username}:{password}".encode()).decode()
        headers.append(("Authorization", f"Basic {token}"))
    parts = urlsplit(config.url)
    if parts.scheme == "unix":
        path = parts.path if not parts.netloc else f"/{parts.netloc}{parts.path}"
        return "http://localhost/RPC2", _SupervisorTransport(timeout, path, headers)
    return config.url, _SupervisorTransport(timeout, None, headers)
