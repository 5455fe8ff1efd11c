"""Run the fleet under a real supervisord, drive it with restartctl, and audit the trading.

Used by the demo (``examples/demo.py``) and the end-to-end tests::

    fleet = SupervisedFleet(FleetLayout(run_dir=Path("/tmp/fleet")))
    fleet.start()                      # supervisord + five services, all ready
    fleet.restartctl("run", "--force-window")
    print(fleet.audit())               # signals generated vs executed, lost, duplicates
    fleet.stop()
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from fleet_services.layout import SERVICES, FleetLayout


class FleetError(RuntimeError):
    """The fleet did not start, stop or settle as expected; the message says where to look."""


def restartctl_command() -> list[str]:
    """``restartctl`` installed beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("restartctl")
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-c", "from restart_orchestrator.cli import main; main()"]


@dataclass
class Audit:
    """What trading produced, as recorded in Redis by the services themselves."""

    signals: list[str]
    orders: dict[str, dict[str, Any]]
    fills: list[str]

    @property
    def generated(self) -> int:
        return len(self.signals)

    @property
    def executed(self) -> int:
        """Signals that became an order (filled, or rejected by risk-safety)."""
        return sum(1 for sid in self.signals if sid in self.orders)

    @property
    def lost(self) -> list[str]:
        return [sid for sid in self.signals if sid not in self.orders]

    @property
    def duplicates(self) -> list[str]:
        """Orders filled more than once on the exchange."""
        return sorted(oid for oid, n in Counter(self.fills).items() if n > 1)

    @property
    def http_orders(self) -> int:
        return sum(1 for order in self.orders.values() if order.get("source") == "http")

    def positions(self) -> dict[str, dict[str, int]]:
        """Positions implied by the filled orders: what execution's book must say."""
        book: dict[str, dict[str, int]] = {}
        for order in self.orders.values():
            if order.get("status") != "filled":
                continue
            position = book.setdefault(order["symbol"], {"qty": 0, "notional_cents": 0})
            signed = order["qty"] if order["side"] == "buy" else -order["qty"]
            position["qty"] += signed
            position["notional_cents"] += signed * round(order["price"] * 100)
        return book

    def summary(self) -> dict[str, Any]:
        return {
            "signals_generated": self.generated,
            "signals_executed": self.executed,
            "signals_lost": len(self.lost),
            "fills": len(self.fills),
            "duplicate_fills": len(self.duplicates),
            "http_orders": self.http_orders,
        }


@dataclass
class SupervisedFleet:
    """supervisord running the five services of ``layout``; tokens live in its environment."""

    layout: FleetLayout
    tokens: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not self.tokens:
            self.tokens = self.layout.new_tokens()

    @property
    def config(self) -> Path:
        return self.layout.run_dir / "fleet.toml"

    @property
    def env(self) -> dict[str, str]:
        """The environment supervisord and restartctl need (the admin tokens)."""
        return {**os.environ, **self.tokens}

    # -- supervisord ---------------------------------------------------------------

    def start(self, *, timeout: float = 90.0) -> None:
        """Write the configs, start supervisord, wait until every service is ready."""
        conf, _ = self.layout.write()
        out = (self.layout.logs / "supervisord.out").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.layout.run_dir,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not it: we stop it
        )
        out.close()
        self.wait_ready(timeout=timeout)

    def wait_ready(self, services: list[str] | None = None, *, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(services or SERVICES)
        while waiting:
            if self.process is not None and self.process.poll() is not None:
                raise FleetError(
                    f"supervisord exited ({self.process.returncode}); see "
                    f"{self.layout.logs}/supervisord.log"
                )
            waiting = [name for name in waiting if not self._ready(name)]
            if waiting and time.monotonic() > deadline:
                raise FleetError(
                    f"not ready after {timeout:.0f} s: {', '.join(waiting)}; their logs are "
                    f"in {self.layout.logs}:\n" + "\n".join(self.log_tail(n) for n in waiting)
                )
            time.sleep(0.2)

    def _ready(self, service: str) -> bool:
        try:
            return httpx.get(self.layout.url(service) + "/health/ready", timeout=2).is_success
        except httpx.HTTPError:
            return False

    def supervisord_call(self, method: str, *args: Any) -> Any:
        """Call supervisord's XML-RPC API, e.g. ``supervisord_call("stopProcess", "execution")``."""
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, serverurl=self.layout.supervisor_url)
        try:
            proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
            return getattr(proxy.supervisor, method)(*args)
        finally:
            transport.close()

    def process_states(self) -> dict[str, tuple[str, int]]:
        """Program name -> (supervisord state, pid)."""
        infos = self.supervisord_call("getAllProcessInfo")
        return {info["name"]: (info["statename"], info["pid"]) for info in infos}

    def log_tail(self, service: str, lines: int = 15) -> str:
        path = self.layout.logs / f"{service}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return f"--- {service} ---\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self, *, timeout: float = 90.0) -> None:
        """Stop supervisord and with it every service (each drains and saves on SIGTERM)."""
        if self.process is None or self.process.poll() is not None:
            return
        pids: list[int] = []
        with contextlib.suppress(Exception):
            pids = [pid for _, pid in self.process_states().values() if pid]
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    # -- restartctl ----------------------------------------------------------------

    def restartctl(
        self, *args: str, timeout: float = 300.0, capture: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``restartctl ARGS -c fleet.toml`` to the end."""
        return subprocess.run(
            [*restartctl_command(), *args, "-c", str(self.config)],
            env=self.env,
            capture_output=capture,
            text=True,
            timeout=timeout,
            check=False,
        )

    def restartctl_background(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """Start ``restartctl ARGS -c fleet.toml``; its output goes to ``log``."""
        with log.open("wb") as out:
            return subprocess.Popen(
                [*restartctl_command(), *args, "-c", str(self.config)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    # -- the services --------------------------------------------------------------

    def client(self, service: str, **kwargs: Any) -> httpx.Client:
        """An HTTP client for ``service``'s own API (close it, or use it in a ``with``)."""
        return httpx.Client(base_url=self.layout.url(service), timeout=10, **kwargs)

    def get(self, service: str, path: str) -> Any:
        response = httpx.get(self.layout.url(service) + path, timeout=5)
        response.raise_for_status()
        return response.json()

    def admin(self, service: str, method: str, path: str) -> Any:
        token = self.tokens[self.layout.token_env(service)]
        response = httpx.request(
            method,
            self.layout.url(service) + path,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def quiesce(self, *, timeout: float = 30.0) -> None:
        """Pause signal generation and wait until execution has executed everything queued."""
        self.admin("ai-engine", "POST", "/admin/pause")
        deadline = time.monotonic() + timeout
        while True:
            stats = self.get("execution", "/orders/stats")
            if not (stats["queue_lag"] or stats["active_orders"] or stats["pending_fills"]):
                return
            if time.monotonic() > deadline:
                raise FleetError(f"execution did not settle in {timeout:.0f} s: {stats}")
            time.sleep(0.1)

    def audit(self) -> Audit:
        client = redis.Redis.from_url(self.layout.redis_url, decode_responses=True)
        try:
            prefix = self.layout.key_prefix
            entries: Any = client.xrange(f"{prefix}:signals")
            orders: Any = client.hgetall(f"{prefix}:orders")
            fills: Any = client.lrange(f"{prefix}:exchange:fills", 0, -1)
        finally:
            client.close()
        return Audit(
            signals=[fields["signal_id"] for _, fields in entries],
            orders={oid: json.loads(value) for oid, value in orders.items()},
            fills=list(fills),
        )

    def delete_keys(self) -> None:
        """Delete the fleet's and the SDK's keys (private prefixes only)."""
        client = redis.Redis.from_url(self.layout.redis_url)
        try:
            patterns = {
                f"{self.layout.key_prefix}:*",
                f"{self.layout.sdk_key_prefix}:*",
                self.layout.lifecycle_stream,
                self.layout.restart_stream,
            }
            for pattern in patterns:
                keys = list(client.scan_iter(match=pattern, count=500))
                if keys:
                    client.delete(*keys)
        finally:
            client.close()
