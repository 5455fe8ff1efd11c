"""Soak: the example fleet restarted many times in a row while it trades.

``nox -s soak`` (``pytest -m soak``) restarts it 20 times (``SOAK_RESTARTS`` to
change); the normal test run restarts it twice. After every run the figures of
each new service process (open file descriptors, resident memory) and of Redis
(keys under the fleet's prefixes, stream lengths) are recorded and printed; at
the end trading is settled and audited.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from fleet_services.layout import SERVICES
from fleet_services.supervised import SupervisedFleet
from tests.e2e.fleet_checks import audit_after_quiesce, read_report, wait_for_trading

pytestmark = [pytest.mark.e2e, pytest.mark.soak]

SETTLE_S = 3.0  # every process is measured at the same age, after trading resumed


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """20 restarts when the soak marker is selected (``nox -s soak``), 2 otherwise."""
    if "restarts" in metafunc.fixturenames:
        soak = "soak" in (metafunc.config.getoption("markexpr") or "")
        restarts = int(os.environ.get("SOAK_RESTARTS", "20" if soak else "2"))
        metafunc.parametrize("restarts", [restarts])


def open_fds(pid: int) -> tuple[int, int]:
    """(sockets, other descriptors) of ``pid``. Sockets come and go with traffic and
    connection pools (execution's count varied from 16 to 28 between runs at the same
    age); files, pipes and event fds do not, so a leak shows there first."""
    sockets = others = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # closed while listed
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            others += 1
    return sockets, others


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def measure(fleet: SupervisedFleet) -> dict[str, Any]:
    """File descriptors and memory of every service process; Redis keys and streams."""
    pids = {name: pid for name, (_, pid) in fleet.process_states().items() if name in SERVICES}
    layout = fleet.layout
    client = redis.Redis.from_url(layout.redis_url)
    try:
        keys = set()
        for pattern in (f"{layout.key_prefix}:*", f"{layout.sdk_key_prefix}:*"):
            keys.update(client.scan_iter(match=pattern, count=1000))
        keys.update(k for k in (layout.lifecycle_stream, layout.restart_stream) if client.exists(k))
        streams = {
            stream: int(client.xlen(stream))
            for stream in (layout.lifecycle_stream, layout.restart_stream)
        }
        memory = int(client.memory_usage(layout.lifecycle_stream) or 0)
    finally:
        client.close()
    fds = {name: open_fds(pid) for name, pid in pids.items()}
    assert fleet.process is not None
    return {
        "pids": pids,
        "fds": {name: sum(pair) for name, pair in fds.items()},
        "sockets": {name: pair[0] for name, pair in fds.items()},
        "other_fds": {name: pair[1] for name, pair in fds.items()},
        "supervisord_fds": sum(open_fds(fleet.process.pid)),
        "rss_kib": {name: rss_kib(pid) for name, pid in pids.items()},
        "redis_keys": len(keys),
        "streams": streams,
        "lifecycle_stream_bytes": memory,
    }


def test_fleet_restarted_many_times_under_trading_loses_nothing_and_does_not_grow(
    start_fleet: Callable[..., SupervisedFleet],
    tmp_path: Path,
    figures: dict[str, Any],
    restarts: int,
) -> None:
    """1. The example fleet trades under supervisord.
    2. ``restartctl run --force-window`` restarts it ``restarts`` times in a row, trading
    resuming between runs; after each run the new processes are measured.
    3. Signal generation is paused, execution settles, the books are audited.
    Result: every run exits 0 with no order lost; every signal executed exactly once;
    per service, the last run's processes hold no more files, pipes and event fds
    than the first's (+1), no more sockets (+10: pools and keep-alive vary) and no
    more memory (+25% +8 MiB); supervisord's descriptors do not grow (+1); the number
    of Redis keys is the same after every run; streams stay under their caps."""
    fleet = start_fleet(min_healthy="0.5s")
    wait_for_trading(fleet, signals=20)
    rows: list[dict[str, Any]] = []
    for number in range(1, restarts + 1):
        report_path = tmp_path / f"report-{number}.json"
        started = time.monotonic()
        result = fleet.restartctl(
            "run", "--force-window", "--output", "json", "--report", str(report_path)
        )
        took = time.monotonic() - started
        assert result.returncode == 0, f"run {number}: {result.stdout}{result.stderr}"
        report = read_report(report_path)
        assert report["orders_lost"] == {}, f"run {number}: {report['orders_lost']}"
        wait_for_trading(fleet, signals=10)
        time.sleep(SETTLE_S)
        row = {"run": number, "seconds": round(took, 1), **measure(fleet)}
        rows.append(row)
        print(
            f"\nsoak run {number}/{restarts}: {row['seconds']} s, sockets {row['sockets']}, "
            f"other fds {row['other_fds']}, supervisord fds {row['supervisord_fds']}, "
            f"rss KiB {row['rss_kib']}, redis keys {row['redis_keys']}, "
            f"streams {row['streams']}"
        )
    audit = audit_after_quiesce(fleet)

    first, last = rows[0], rows[-1]
    for name in SERVICES:
        assert last["other_fds"][name] <= first["other_fds"][name] + 1, (
            name,
            first["other_fds"],
            last["other_fds"],
        )
        assert last["sockets"][name] <= first["sockets"][name] + 10, (
            name,
            first["sockets"],
            last["sockets"],
        )
        limit = first["rss_kib"][name] * 1.25 + 8192
        assert last["rss_kib"][name] <= limit, (name, first["rss_kib"], last["rss_kib"])
    assert last["supervisord_fds"] <= first["supervisord_fds"] + 1, [
        row["supervisord_fds"] for row in rows
    ]
    assert {row["redis_keys"] for row in rows} == {first["redis_keys"]}, [
        row["redis_keys"] for row in rows
    ]
    for row in rows:
        assert all(length <= 11_000 for length in row["streams"].values()), row["streams"]
    assert len({tuple(sorted(row["pids"].values())) for row in rows}) == restarts
    figures.update(
        restarts=restarts,
        seconds_per_run=[row["seconds"] for row in rows],
        fds_first_last={name: (first["fds"][name], last["fds"][name]) for name in SERVICES},
        other_fds_per_run={name: [row["other_fds"][name] for row in rows] for name in SERVICES},
        sockets_per_run={name: [row["sockets"][name] for row in rows] for name in SERVICES},
        supervisord_fds=[row["supervisord_fds"] for row in rows],
        rss_kib_first_last={
            name: (first["rss_kib"][name], last["rss_kib"][name]) for name in SERVICES
        },
        redis_keys=[row["redis_keys"] for row in rows],
        signals_executed=audit.executed,
        orders_lost=len(audit.lost),
    )
