"""Render the fleet's supervisord configuration and restartctl fleet file.

Ports, directories, Redis and timings are parameters, so the demo (ports
8001-8005), the end-to-end tests (free ports, a private key prefix) and a real
host render the same fleet. For a host of your own::

    python -m fleet_services.layout --run-dir /var/lib/trading \\
        --python /opt/trading/venv/bin/python --state-store redis://127.0.0.1:6379/0

The checked-in ``examples/deploy/`` (supervisord, systemd, Kubernetes) is rendered
from this module by :mod:`fleet_services.deploy`.

Admin tokens never appear in the files: supervisord passes each program the
token from its own environment (``%(ENV_EXECUTION_ADMIN_TOKEN)s``) and restartctl
reads the same variables (``token_env``).

>>> layout = FleetLayout(run_dir=Path("/srv/fleet"))
>>> layout.url("execution")
'http://127.0.0.1:8002'
>>> layout.token_env("portfolio-intelligence")
'PORTFOLIO_INTELLIGENCE_ADMIN_TOKEN'
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: service name -> (ASGI app, port in the demo and the examples)
SERVICES: dict[str, tuple[str, int]] = {
    "ai-engine": ("fleet_services.ai_engine:app", 8001),
    "execution": ("fleet_services.execution:app", 8002),
    "risk-safety": ("fleet_services.risk_safety:app", 8003),
    "portfolio-intelligence": ("fleet_services.portfolio_intelligence:app", 8004),
    "monitoring-health": ("fleet_services.monitoring_health:app", 8005),
}
DEPENDS_ON: dict[str, list[str]] = {
    "risk-safety": [],
    "execution": ["risk-safety"],
    "ai-engine": ["execution", "risk-safety"],
    "portfolio-intelligence": ["execution"],
    "monitoring-health": [],
}
# The runbook's orders: monitoring-health watches until the end of the stop and comes back last.
SHUTDOWN_ORDER = [
    "ai-engine",
    "portfolio-intelligence",
    "execution",
    "risk-safety",
    "monitoring-health",
]
STARTUP_ORDER = [
    "risk-safety",
    "execution",
    "ai-engine",
    "portfolio-intelligence",
    "monitoring-health",
]
PAUSE_FIRST = {"ai-engine"}
DEFAULT_PORTS = {name: port for name, (_, port) in SERVICES.items()}

SUPERVISORD_HEADER = """\
; The example trading fleet under supervisord (rendered by fleet_services.layout).
; Admin tokens come from supervisord's environment: export AI_ENGINE_ADMIN_TOKEN etc.
; Nothing here fights restartctl: a stop it asked for is not undone (autorestart only
; after an unexpected exit), and a broken start (uvicorn exits 3) is not restarted in a
; loop (3 is an expected exit code). stopwaitsecs > restartctl's grace > the drain deadline.
[unix_http_server]
file = {sock}
chmod = 0700

[supervisord]
logfile = {logs}/supervisord.log
pidfile = {run_dir}/supervisord.pid
childlogdir = {logs}
directory = {run_dir}
loglevel = info
nodaemon = true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl = unix://{sock}
"""

# supervisord must not fight restartctl:
# - a stop restartctl asked for is never undone (supervisord restarts only unexpected exits);
# - a broken start is not retried behind restartctl's back: uvicorn exits 3 when the app's
#   startup fails, which is often after startsecs (imports and restore take seconds), so
#   startretries alone would not catch it; 3 is an expected exit code: the program stays
#   EXITED and restartctl reports it, rolls the snapshot back and retries on its own terms;
# - a crash (any other exit code) of a running service is still restarted.
# stopwaitsecs > restartctl's grace > the drain deadline.
SUPERVISORD_PROGRAM = """
[program:{service}]
command = {python} -m uvicorn {target} --host 127.0.0.1 --port {port} --no-access-log
    --timeout-graceful-shutdown {server_timeout}
directory = {run_dir}
autostart = true
autorestart = unexpected
exitcodes = 0,3
startsecs = 1
startretries = 1
stopsignal = TERM
stopwaitsecs = {stopwaitsecs}
killasgroup = true
redirect_stderr = true
stdout_logfile = {logs}/{service}.log
stdout_logfile_maxbytes = 20MB
stdout_logfile_backups = 3
environment =
    {env}
"""


@dataclass
class FleetLayout:
    """Everything that differs between one deployment of the fleet and another."""

    run_dir: Path
    redis_url: str = "redis://127.0.0.1:6379/0"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    python: str = sys.executable
    #: the SDK's snapshot store: a directory (default ``run_dir/state``) or redis://
    state_store: str | None = None
    key_prefix: str = "fleet"  # the fleet's own keys: signals, orders, fills
    sdk_key_prefix: str = "shutdown-sdk"
    lifecycle_stream: str = "shutdown-sdk:events"
    restart_stream: str = "restart:events"
    drain_deadline: float = 30.0
    gate_max_wait: str = "5m"
    gate_poll_interval: str = "1s"
    min_healthy: str = "5s"
    startup_deadline: str = "1m"
    signal_rate: float = 10.0
    window: tuple[str, str] = ("04:00", "04:30")
    lock: str | None = None  # default run_dir/restartctl/trading.lock
    pythonpath: str | None = None
    #: extra environment per service, e.g. {"execution": {"FLEET_FAULT_FILE": "..."}}
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    postgres_dsn: str | None = None
    journal: str | None = None  # default run_dir/restartctl/trading.journal.json
    #: the services' base URL; ``{service}`` and ``{port}`` are filled in
    url_template: str = "http://127.0.0.1:{port}"

    @property
    def socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def supervisor_url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    @property
    def shutdown_grace(self) -> float:
        """restartctl's bound on a graceful stop: the drain plus time to save and close."""
        return self.drain_deadline + 10

    def url(self, service: str) -> str:
        return self.url_template.format(service=service, port=self.ports[service])

    @property
    def server_timeout(self) -> int:
        """uvicorn's ``--timeout-graceful-shutdown``: a second bound, above the drain."""
        return int(self.drain_deadline + 5)

    @property
    def stop_timeout(self) -> int:
        """The process manager's bound on a stop: above restartctl's grace, so restartctl
        decides when a stop is forced."""
        return int(self.shutdown_grace + 5)

    @staticmethod
    def token_env(service: str) -> str:
        return service.upper().replace("-", "_") + "_ADMIN_TOKEN"

    def new_tokens(self) -> dict[str, str]:
        """A fresh admin token per service, as the environment both supervisord and
        restartctl need."""
        return {self.token_env(name): secrets.token_hex(16) for name in SERVICES}

    def program_env(self, service: str) -> dict[str, str]:
        env = {
            "SHUTDOWN_ADMIN_TOKEN": f"%(ENV_{self.token_env(service)})s",
            "SHUTDOWN_DRAIN_DEADLINE": f"{self.drain_deadline:g}",
            "SHUTDOWN_STATE_STORE": self.state_store or str(self.run_dir / "state"),
            "SHUTDOWN_STATE_FALLBACK_DIR": str(self.run_dir / "state-fallback"),
            "SHUTDOWN_REDIS_URL": self.redis_url,
            "SHUTDOWN_KEY_PREFIX": self.sdk_key_prefix,
            "SHUTDOWN_EVENTS_STREAM": self.lifecycle_stream,
            "FLEET_REDIS_URL": self.redis_url,
            "FLEET_KEY_PREFIX": self.key_prefix,
            "FLEET_EXECUTION_URL": self.url("execution"),
            "FLEET_RISK_SAFETY_URL": self.url("risk-safety"),
            "FLEET_RESTART_EVENTS_STREAM": self.restart_stream,
            "FLEET_SIGNAL_RATE": f"{self.signal_rate:g}",
            "PYTHONUNBUFFERED": "1",
        }
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        env.update(self.env.get(service, {}))
        return env

    def supervisord_conf(self) -> str:
        """supervisord's configuration: one program per service, nothing fighting restartctl."""
        text = SUPERVISORD_HEADER.format(sock=self.socket, logs=self.logs, run_dir=self.run_dir)
        for service, (target, _) in SERVICES.items():
            env = ",\n    ".join(f'{k}="{v}"' for k, v in self.program_env(service).items())
            text += SUPERVISORD_PROGRAM.format(
                service=service,
                python=self.python,
                target=target,
                port=self.ports[service],
                server_timeout=self.server_timeout,
                stopwaitsecs=self.stop_timeout,
                run_dir=self.run_dir,
                logs=self.logs,
                env=env,
            )
        return text

    def supervisor_backend(self, service: str) -> str:
        return f'{{ kind = "supervisor", url = "{self.supervisor_url}", program = "{service}" }}'

    def token_env_line(self, service: str) -> str:
        return f'token_env = "{self.token_env(service)}"'

    def fleet_toml(
        self,
        *,
        backend: Callable[[str], str] | None = None,
        token: Callable[[str], str] | None = None,
        comments: Sequence[str] = (),
    ) -> str:
        """restartctl's fleet file for this layout.

        ``backend(service)`` gives the backend's inline table (default: this
        supervisord), ``token(service)`` the admin token line (default: ``token_env``).
        """
        backend = backend or self.supervisor_backend
        token = token or self.token_env_line
        state_store = self.state_store or str(self.run_dir / "state")
        lock = self.lock or str(self.run_dir / "restartctl" / "trading.lock")
        journal = self.journal or str(self.run_dir / "restartctl" / "trading.journal.json")
        lines = [
            "# The example trading fleet (rendered by fleet_services.layout).",
            "# Orders are the runbook's: monitoring-health stops last and starts last.",
            *(f"# {line}" for line in comments),
            'name = "trading"',
            f'state_store = "{state_store}"',
            f'state_key_prefix = "{self.sdk_key_prefix}"',
            f'journal = "{journal}"',
            f"shutdown_order = {_toml_list(SHUTDOWN_ORDER)}",
            f"startup_order = {_toml_list(STARTUP_ORDER)}",
            "",
            "[lock]",
            f'location = "{lock}"',
            'ttl = "1h"',
            "",
            "[window]",
            f'start = "{self.window[0]}"',
            f'end = "{self.window[1]}"',
            'timezone = "UTC"',
            "",
            "[gate]",
            f'max_wait = "{self.gate_max_wait}"',
            f'poll_interval = "{self.gate_poll_interval}"',
            'max_poll_interval = "5s"',
            "",
            "[notifications]",
            f'redis_url = "{self.redis_url}"',
            f'stream = "{self.restart_stream}"',
            "",
        ]
        for service in STARTUP_ORDER:
            lines += [
                f"[services.{service}]",
                f'url = "{self.url(service)}"',
                token(service),
                f"depends_on = {_toml_list(DEPENDS_ON[service])}",
                f"pause_first = {'true' if service in PAUSE_FIRST else 'false'}",
                f'shutdown_grace = "{self.shutdown_grace:g}s"',
                f'startup_deadline = "{self.startup_deadline}"',
                f'min_healthy = "{self.min_healthy}"',
                f"backend = {backend(service)}",
                "",
            ]
        lines += ["[[checks]]", 'kind = "redis"', 'name = "redis"', f'url = "{self.redis_url}"']
        if self.postgres_dsn:
            lines += [
                "",
                "[[checks]]",
                'kind = "postgres"',
                'name = "postgres"',
                f'dsn = "{self.postgres_dsn}"',
            ]
        return "\n".join(lines) + "\n"

    def write(self) -> tuple[Path, Path]:
        """Create the run directory and write both files; returns (supervisord.conf, fleet.toml)."""
        for path in (self.run_dir, self.logs, self.run_dir / "restartctl"):
            path.mkdir(parents=True, exist_ok=True)
        supervisord_conf = self.run_dir / "supervisord.conf"
        fleet_toml = self.run_dir / "fleet.toml"
        supervisord_conf.write_text(self.supervisord_conf())
        fleet_toml.write_text(self.fleet_toml())
        return supervisord_conf, fleet_toml


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="logs, socket, state, lock")
    parser.add_argument("--python", default=sys.executable, help="the venv's python")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--state-store", default=None, help="directory or redis:// URL")
    parser.add_argument("--out", type=Path, default=None, help="write here instead of run-dir")
    args = parser.parse_args(argv)
    layout = FleetLayout(
        run_dir=args.run_dir,
        python=args.python,
        redis_url=args.redis_url,
        state_store=args.state_store,
        lock=args.redis_url if args.state_store and args.state_store.startswith("redis") else None,
    )
    out = args.out or args.run_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "supervisord.conf").write_text(layout.supervisord_conf())
    (out / "fleet.toml").write_text(layout.fleet_toml())
    print(f"wrote {out / 'supervisord.conf'} and {out / 'fleet.toml'}")


if __name__ == "__main__":
    main()
