"""The demo: the example fleet trades under supervisord while restartctl restarts it.

    python3 -m pip install nox uv && python3 -m nox -s demo     # or: python examples/demo.py

1. Start the five services (ports 8001-8005) under supervisord in a run directory.
2. Let them trade for a few seconds (ai-engine signals -> execution orders).
3. Run the daily restart: ``restartctl run --force-window``, its progress shown live.
4. Trade a little more, then audit: every signal generated must have been executed
   exactly once, positions must match the orders, state must have been restored.
5. Write ``demo-output/report.json`` and ``demo-output/timeline.svg``; stop everything.

The signal bus is Redis: ``REDIS_URL`` if set, else 127.0.0.1:6379 if it answers,
else a throwaway ``redis-server`` the demo starts (install one if none is found).
Snapshots go to files in the run directory, or to Redis when ``REDIS_URL`` is set.
Exit status: 0 when nothing was lost, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if sys.version_info < (3, 11):  # noqa: UP036 - say it clearly instead of failing on syntax
    sys.exit("the demo needs Python 3.11 or newer")

from fleet_services.layout import DEFAULT_PORTS, FleetLayout
from fleet_services.local_redis import fleet_redis
from fleet_services.supervised import FleetError, SupervisedFleet

OUTPUT = Path("demo-output")


def main() -> int:
    parser = argparse.ArgumentParser(description="Restart the example fleet while it trades.")
    parser.add_argument("--trade-seconds", type=float, default=5.0, help="trading before")
    parser.add_argument("--signal-rate", type=float, default=20.0, help="signals per second")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="report, timeline, logs")
    parser.add_argument("--keep-run-dir", action="store_true", help="keep logs and state")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # cleanup also when the demo is terminated
    check_ports_free()
    run_dir = Path(tempfile.mkdtemp(prefix="fleet-demo-"))
    try:
        with redis_for_demo(run_dir) as (redis_url, store_in_redis):
            return run_demo(args, run_dir, redis_url, store_in_redis)
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo started has been stopped", file=sys.stderr)
        return 130
    except FleetError as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)


def run_demo(args: argparse.Namespace, run_dir: Path, redis_url: str, store_in_redis: bool) -> int:
    tag = secrets.token_hex(3)
    layout = FleetLayout(
        run_dir=run_dir,
        redis_url=redis_url,
        state_store=redis_url if store_in_redis else None,
        key_prefix=f"fleet-demo-{tag}",
        sdk_key_prefix=f"fleet-demo-{tag}:sdk",
        lifecycle_stream=f"fleet-demo-{tag}:sdk:events",
        restart_stream=f"fleet-demo-{tag}:restart:events",
        drain_deadline=20,
        min_healthy="1s",
        gate_max_wait="1m",
        gate_poll_interval="0.5s",
        signal_rate=args.signal_rate,
    )
    fleet = SupervisedFleet(layout)
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    store = "Redis" if store_in_redis else f"files in {run_dir / 'state'}"
    step(f"starting the fleet under supervisord (run directory {run_dir})")
    print(f"  event bus: {redis_url}   snapshots: {store}")
    try:
        started = time.monotonic()
        fleet.start()
        print(
            f"  5 services ready in {time.monotonic() - started:.1f} s: "
            + ", ".join(f"{n} :{p}" for n, p in layout.ports.items())
        )

        step(f"trading for {args.trade_seconds:g} s")
        watch_trading(fleet, args.trade_seconds)
        before = snapshot_of(fleet)

        step("daily restart: restartctl run --force-window")
        report_path, timeline_path = output / "report.json", output / "timeline.svg"
        started = time.monotonic()
        result = fleet.restartctl(
            "run",
            "--force-window",
            "--output",
            "human",
            "--report",
            str(report_path),
            "--timeline",
            str(timeline_path),
            capture=False,
        )
        restart_s = time.monotonic() - started

        step("trading after the restart for 2 s")
        watch_trading(fleet, 2.0)
        after_restart = snapshot_of(fleet)
        fleet.quiesce()
        audit = fleet.audit()
        book = fleet.get("execution", "/positions")["positions"]
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        history = fleet.get("monitoring-health", "/restarts")["runs"]
        restored = {
            name: fleet.admin(name, "GET", "/admin/status")["last_restore"] for name in layout.ports
        }
    finally:
        step("stopping the fleet")
        fleet.stop()
        copy_logs(layout.logs, output / "logs")
        fleet.delete_keys()

    problems = print_summary(
        result.returncode,
        restart_s,
        report,
        audit,
        book,
        before,
        after_restart,
        history,
        restored,
    )
    print(f"\nreport: {report_path}   timeline: {timeline_path}   logs: {output / 'logs'}")
    if problems:
        print("\nFAILED: " + "; ".join(problems))
        return 1
    print("\nOK: nothing lost, every signal executed exactly once, state restored.")
    return 0


def watch_trading(fleet: SupervisedFleet, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        signals = fleet.get("ai-engine", "/signals/stats")
        orders = fleet.get("execution", "/orders/stats")
        print(
            f"  signals generated {signals['generated']:>5}   orders filled "
            f"{orders['counts'].get('filled', 0):>5}   queue lag {orders['queue_lag']}"
        )


def snapshot_of(fleet: SupervisedFleet) -> dict[str, Any]:
    return {
        "ess": fleet.get("risk-safety", "/ess"),
        "model_seq": fleet.get("ai-engine", "/signals/stats")["seq"],
    }


def print_summary(
    exit_code: int,
    restart_s: float,
    report: dict[str, Any],
    audit: Any,
    book: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    history: list[dict[str, Any]],
    restored: dict[str, Any],
) -> list[str]:
    problems: list[str] = []
    step("summary")
    outcome = report.get("outcome", "no report")
    print(f"  restartctl: {outcome} (exit {exit_code}) in {restart_s:.1f} s")
    for phase in report.get("phases", []):
        print(
            f"    phase {phase['number']} {phase['name']:<24} {phase['duration_s']:6.2f} s"
            f"  {'ok' if phase['ok'] else 'FAILED'}"
        )
    print("  services (stop / start):")
    for name, entry in report.get("services", {}).items():
        stop = entry.get("stop") or {}
        attempts = (entry.get("start") or {}).get("attempts") or [{}]
        how = "graceful" if stop.get("graceful") else "FORCED"
        print(
            f"    {name:<24} stopped {how} in {stop.get('duration_s', 0):.2f} s, "
            f"ready in {attempts[-1].get('duration_s', 0):.2f} s"
        )
    if history:
        run = history[-1]
        print(f"  monitoring-health saw: stops {' > '.join(run['stopped'])}")
        print(f"                         starts {' > '.join(run['started'])}")
    figures = audit.summary()
    print(
        f"  signals generated {figures['signals_generated']}, executed "
        f"{figures['signals_executed']}, lost {figures['signals_lost']}, "
        f"filled twice {figures['duplicate_fills']}"
    )
    lost_in_drain = sum(len(v) for v in report.get("orders_lost", {}).values())
    print(f"  orders abandoned by a drain (restartctl's orders lost): {lost_in_drain}")
    positions_ok = audit.positions() == book
    print(
        f"  positions: {len(book)} symbols, "
        f"{'equal to' if positions_ok else 'DIFFERENT FROM'} the filled orders"
    )
    restored_ok = all(r and r.get("ok") and r.get("found") for r in restored.values())
    print(
        f"  state restored from snapshots: "
        f"{', '.join(n for n, r in restored.items() if r and r.get('ok') and r.get('found'))}"
    )
    ess_same = before["ess"] == after["ess"]
    print(
        f"  ESS and limits {'unchanged' if ess_same else 'CHANGED'} across the restart; "
        f"model sequence continued from {before['model_seq']} (now {after['model_seq']})"
    )
    if exit_code != 0:
        problems.append(f"restartctl exited {exit_code}")
    if figures["signals_lost"] or lost_in_drain:
        problems.append(f"{figures['signals_lost'] + lost_in_drain} lost")
    if figures["duplicate_fills"]:
        problems.append(f"{figures['duplicate_fills']} orders filled twice")
    if not positions_ok:
        problems.append("positions differ from the orders")
    if not restored_ok:
        problems.append("a service did not restore its state")
    if not ess_same:
        problems.append("ESS state changed")
    if after["model_seq"] < before["model_seq"]:
        problems.append("ai-engine's model state was not restored")
    return problems


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def check_ports_free() -> None:
    taken = []
    for name, port in DEFAULT_PORTS.items():
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                taken.append(f"{port} ({name})")
    if taken:
        sys.exit(
            f"the demo needs ports 8001-8005; in use: {', '.join(taken)}. Stop what "
            "listens there (another demo still running?) and try again."
        )


@contextlib.contextmanager
def redis_for_demo(run_dir: Path) -> Iterator[tuple[str, bool]]:
    """(Redis URL, whether snapshots go to Redis too: only when ``REDIS_URL`` is set)."""
    with fleet_redis(run_dir) as url:
        yield url, bool(os.environ.get("REDIS_URL"))


def copy_logs(source: Path, target: Path) -> None:
    if source.exists():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
