"""3. Fleet restart time: the example fleet's daily restart against its physical limit.

The five example services (``examples/services``) run under a real supervisord,
trading through Redis, on free ports. Each round, in turns:

- **physical limit**: the same levels driven straight through supervisord's
  XML-RPC API as fast as the processes allow (stops of a level together, starts
  of a level together, 10 ms polls); every stop (request to process gone) and
  every boot (start to ``/health/ready``) is timed, with trading paused as in
  restartctl's run (``pause_first`` services). The limit is the sum over
  levels of the slowest stop and the slowest boot; shown with and without the
  ``min_healthy`` dwell the fleet file requires before the next level starts.
- **restartctl**: ``restartctl run --force-window --report``: phases 1-5 (pause,
  gate, flush, save, stop, infrastructure checks, start, verify, resume).
- **the original shell script** (daily-restart-strategy.md, Option 1) on the
  same supervisord: pause ai-engine, ``sleep 5``, stop the services one after
  the other, ping Redis, start them one after the other, ``sleep 10``, curl
  ``/health``; here with all five services and a final resume. It also notes
  which services it started while a service they depend on was not ready.

restartctl's own time is its run minus its own critical path (from its report):
what the orchestrator adds (phases 1, 3, 5, polls, gaps), whatever the machine's
load did to the boots.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import time
import xmlrpc.client
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from benchmarks.overhead import rotations
from benchmarks.plots import pyplot, save
from benchmarks.processes import free_port
from benchmarks.restarts import RunOutcome, physical_limit, plan_levels, run_restartctl
from benchmarks.results import Figure, Spread, save_json, section
from fleet_services.layout import (
    DEPENDS_ON,
    PAUSE_FIRST,
    SERVICES,
    SHUTDOWN_ORDER,
    STARTUP_ORDER,
    FleetLayout,
)
from fleet_services.local_redis import fleet_redis
from fleet_services.supervised import SupervisedFleet

NAME = "fleet"
TARGET = 1.3
MIN_HEALTHY_S = 1.0  # the demo's setting
POLL_S = 0.01


@dataclass(frozen=True)
class LimitSample:
    stop_s: dict[str, float]
    boot_s: dict[str, float]
    limit_s: float
    without_dwell_s: float


@dataclass(frozen=True)
class NaiveSample:
    total_s: float
    ready_at_end: int  # services whose /health/ready passed when the script ended
    started_early: list[str]  # started while a service it depends on was not ready yet


def run(*, quick: bool = False) -> list[Figure]:
    section("3. fleet restart time")
    rounds = 1 if quick else 5
    run_dir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    with redis_url(run_dir) as url:
        tag = secrets.token_hex(3)
        layout = FleetLayout(
            run_dir=run_dir,
            redis_url=url,
            ports={name: free_port() for name in SERVICES},
            key_prefix=f"bench-fleet-{tag}",
            sdk_key_prefix=f"bench-fleet-{tag}:sdk",
            lifecycle_stream=f"bench-fleet-{tag}:sdk:events",
            restart_stream=f"bench-fleet-{tag}:restart:events",
            drain_deadline=20,
            min_healthy=f"{MIN_HEALTHY_S:g}s",
            gate_max_wait="1m",
            gate_poll_interval="0.5s",
        )
        fleet = SupervisedFleet(layout)
        limits: list[LimitSample] = []
        runs: list[RunOutcome] = []
        naive: list[NaiveSample] = []
        try:
            fleet.start()
            shutdown_levels, startup_levels = plan_levels(fleet.config, fleet.tokens)
            print(
                f"  levels: stop {' > '.join('+'.join(level) for level in shutdown_levels)}\n"
                f"          start {' > '.join('+'.join(level) for level in startup_levels)}"
            )
            for number, order in enumerate(rotations(["limit", "restartctl", "naive"], rounds), 1):
                for what in order:
                    _settle(fleet)
                    if what == "limit":
                        limits.append(_measure_limit(fleet, shutdown_levels, startup_levels))
                        line = f"physical limit {limits[-1].limit_s:6.2f} s"
                    elif what == "restartctl":
                        runs.append(
                            run_restartctl(
                                fleet.config,
                                run_dir / f"report-{number}.json",
                                env=fleet.tokens,
                                log_name="fleet-run-progress",
                            )
                        )
                        line = (
                            f"restartctl     {runs[-1].duration_s:6.2f} s "
                            f"({runs[-1].report.get('outcome')})"
                        )
                    else:
                        naive.append(_naive_script(fleet))
                        early = ", ".join(naive[-1].started_early) or "none"
                        line = (
                            f"shell script   {naive[-1].total_s:6.2f} s "
                            f"({naive[-1].ready_at_end}/{len(SERVICES)} ready at its end; "
                            f"started before a dependency was ready: {early})"
                        )
                    print(f"  round {number}/{rounds}: {line}", flush=True)
        finally:
            fleet.stop()
            fleet.delete_keys()
    shutil.rmtree(run_dir, ignore_errors=True)
    return _figures(limits, runs, naive, (shutdown_levels, startup_levels), quick)


def _figures(
    limits: list[LimitSample],
    runs: list[RunOutcome],
    naive: list[NaiveSample],
    levels: tuple[list[list[str]], list[list[str]]],
    quick: bool,
) -> list[Figure]:
    pairs = list(zip(runs, limits, strict=True))  # the same round: the same minute
    ratio = Spread.of(r.duration_s / lim.limit_s for r, lim in pairs)
    strict = Spread.of(r.duration_s / lim.without_dwell_s for r, lim in pairs)
    took = Spread.of(r.duration_s for r in runs)
    limit = Spread.of(lim.limit_s for lim in limits)
    bare = Spread.of(lim.without_dwell_s for lim in limits)
    own = Spread.of(r.duration_s - r.critical_path_s(*levels) for r in runs)
    preamble = Spread.of(r.phase_start_s(1) for r in runs)
    script = Spread.of(n.total_s for n in naive)
    early = sorted({name for n in naive for name in n.started_early})
    phases = {n: Spread.of(r.phase_s(n) for r in runs) for n in range(1, 6)}
    for number, spread in phases.items():
        print(f"  restartctl phase {number}: {spread.show('.2f', ' s')}")
    save_json(
        NAME,
        {
            "limits": [asdict(x) for x in limits],
            "runs": [{"wall_s": r.wall_s, "report": r.report} for r in runs],
            "naive": [asdict(x) for x in naive],
        },
    )
    _plot(limits, runs, naive, quick)
    completed = all(r.completed for r in runs)
    return [
        Figure(
            NAME,
            f"restartctl run / limit (stops + boots + {MIN_HEALTHY_S:g} s min_healthy a level)",
            f"{ratio.show()} ({took.median:.1f} s vs {limit.median:.1f} s)",
            f"<= {TARGET}x",
            ratio.median <= TARGET and completed,
        ),
        Figure(
            NAME,
            "restartctl run / limit without the dwell (stops + boots)",
            f"{strict.show()} ({took.median:.1f} s vs {bare.median:.1f} s)",
            f"<= {TARGET}x",
            strict.median <= TARGET and completed,
        ),
        Figure(
            NAME,
            "restartctl's own time (run - its critical path; before phase 1)",
            f"{own.show('.2f', ' s')} ({preamble.median:.2f} s)",
        ),
        Figure(
            NAME,
            "peer: the runbook's shell script",
            f"{script.show('.1f', ' s')}, "
            f"{min(n.ready_at_end for n in naive)}/{len(SERVICES)} ready at its end, "
            f"started before a dependency was ready: {', '.join(early) or 'none'}",
        ),
    ]


def _supervisor(fleet: SupervisedFleet) -> Any:
    """supervisord's XML-RPC namespace over its unix socket: one per thread (not thread-safe)."""
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, serverurl=fleet.layout.supervisor_url)
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


# -- the physical limit ----------------------------------------------------------------------


def _measure_limit(
    fleet: SupervisedFleet,
    shutdown_levels: Sequence[Sequence[str]],
    startup_levels: Sequence[Sequence[str]],
) -> LimitSample:
    stop_s: dict[str, float] = {}
    boot_s: dict[str, float] = {}
    # As restartctl's phase 1 does: trading paused, so that the boots run in the same quiet
    # fleet as the run's (a trading fleet slows every boot on two cores).
    for service in PAUSE_FIRST:
        fleet.admin(service, "POST", "/admin/pause")
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        for level in shutdown_levels:
            stop_s.update(zip(level, pool.map(lambda n: _stop(fleet, n), level), strict=True))
        for level in startup_levels:
            boot_s.update(zip(level, pool.map(lambda n: _boot(fleet, n), level), strict=True))
    dwell = dict.fromkeys(SERVICES, MIN_HEALTHY_S)
    none = dict.fromkeys(SERVICES, 0.0)
    return LimitSample(
        stop_s,
        boot_s,
        physical_limit(shutdown_levels, startup_levels, stop_s, boot_s, dwell),
        physical_limit(shutdown_levels, startup_levels, stop_s, boot_s, none),
    )


def _stop(fleet: SupervisedFleet, service: str) -> float:
    """supervisord's stop (SIGTERM; the SDK drains, saves, exits) until the process is gone."""
    supervisor = _supervisor(fleet)
    started = time.perf_counter()
    supervisor.stopProcess(service, False)
    while supervisor.getProcessInfo(service)["statename"] not in ("STOPPED", "EXITED"):
        time.sleep(POLL_S)
    return time.perf_counter() - started


def _boot(fleet: SupervisedFleet, service: str) -> float:
    """supervisord's start until ``/health/ready`` passes."""
    supervisor = _supervisor(fleet)
    url = fleet.layout.url(service) + "/health/ready"
    started = time.perf_counter()
    supervisor.startProcess(service, False)
    with httpx.Client(timeout=1.0) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    took = time.perf_counter() - started
                    break
            time.sleep(POLL_S)
    if service in PAUSE_FIRST:  # as restartctl holds it paused until its phase 5
        fleet.admin(service, "POST", "/admin/pause")
    return took


# -- the original runbook's shell script ---------------------------------------------------------


def _naive_script(fleet: SupervisedFleet) -> NaiveSample:
    """daily_restart.sh, step by step, on supervisord instead of docker compose."""
    supervisor = _supervisor(fleet)
    started = time.perf_counter()
    # Phase 1: curl -X POST http://localhost:8001/admin/pause; sleep 5
    fleet.admin("ai-engine", "POST", "/admin/pause")
    time.sleep(5)
    # Phase 2: docker-compose stop ... (one after the other, each waited for)
    for service in SHUTDOWN_ORDER:
        supervisor.stopProcess(service, True)
    # Phase 3: redis-cli PING (and pg_isready)
    client = redis.Redis.from_url(fleet.layout.redis_url)
    try:
        client.ping()
    finally:
        client.close()
    # Phase 4: docker-compose up -d ... (started, not waited for beyond supervisord's startsecs)
    early = []
    for service in STARTUP_ORDER:
        if not all(_is_ready(fleet, dependency) for dependency in DEPENDS_ON[service]):
            early.append(service)
        supervisor.startProcess(service, True)
    # Phase 5: sleep 10; curl http://localhost:800x/health
    time.sleep(10)
    ready = 0
    for service in STARTUP_ORDER:
        with contextlib.suppress(httpx.HTTPError):
            ready += httpx.get(fleet.layout.url(service) + "/health/ready", timeout=5).is_success
    total = time.perf_counter() - started
    # Not in the script (it leaves trading paused): resume, so the next round starts trading.
    with contextlib.suppress(httpx.HTTPError):
        fleet.wait_ready(timeout=60)
        fleet.admin("ai-engine", "POST", "/admin/resume")
    return NaiveSample(total, ready, early)


def _is_ready(fleet: SupervisedFleet, service: str) -> bool:
    try:
        return httpx.get(fleet.layout.url(service) + "/health/ready", timeout=1).is_success
    except httpx.HTTPError:
        return False


def _settle(fleet: SupervisedFleet) -> None:
    """Every service ready and trading (not paused) before the next measurement."""
    fleet.wait_ready(timeout=90)
    for service in SERVICES:
        if fleet.get(service, "/health").get("paused"):
            fleet.admin(service, "POST", "/admin/resume")
    time.sleep(1.0)  # let trading run a moment: the gate then has real orders to wait for


@contextlib.contextmanager
def redis_url(run_dir: Path) -> Iterator[str]:
    """``REDIS_URL``, else 127.0.0.1:6379 when it answers, else a throwaway redis-server."""
    with fleet_redis(run_dir) as url:
        yield url


def _plot(
    limits: list[LimitSample], runs: list[RunOutcome], naive: list[NaiveSample], quick: bool
) -> None:
    plt = pyplot()
    if plt is None:
        return
    limit = Spread.of(lim.limit_s for lim in limits)
    bare = Spread.of(lim.without_dwell_s for lim in limits)
    took = Spread.of(r.duration_s for r in runs)
    script = Spread.of(n.total_s for n in naive)
    fig, ax = plt.subplots(figsize=(10, 3.4))
    ax.barh(["physical limit"], [bare.median], color="#7f7f7f", label="stops + boots")
    ax.barh(
        ["physical limit"],
        [limit.median - bare.median],
        left=[bare.median],
        color="#c7c7c7",
        label=f"min_healthy dwell ({MIN_HEALTHY_S:g} s a level)",
    )
    segments = [("before phase 1 (gate look, lock)", "#d9d9d9", [r.phase_start_s(1) for r in runs])]
    names = ["1 pre-restart", "2 shutdown", "3 checks", "4 startup (dwell included)", "5 verify"]
    colors = ["#98df8a", "#2ca02c", "#17becf", "#1f77b4", "#9467bd"]
    for number, (label, color) in enumerate(zip(names, colors, strict=True), start=1):
        segments.append((label, color, [r.phase_s(number) for r in runs]))
    left = 0.0
    for label, color, values in segments:
        width = Spread.of(values).median
        ax.barh(["restartctl run"], [width], left=[left], color=color, label=label)
        left += width
    ax.barh(["runbook shell script"], [script.median], color="#d62728", label="shell script")
    for y, value in enumerate([limit.median, took.median, script.median]):
        ax.annotate(f"{value:.1f} s", (value, y), xytext=(5, -3), textcoords="offset points")
    ax.invert_yaxis()
    ax.set_xlim(0, max(limit.high, took.high, script.high) * 1.1)
    ax.set_xlabel(f"seconds (medians of {len(runs)} interleaved rounds)")
    ax.set_title("Daily restart of the example fleet (5 services under supervisord)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, NAME, quick=quick)
