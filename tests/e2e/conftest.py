"""The example fleet under a real supervisord, on free ports, with a private Redis key prefix.

Every test gets its own fleet (``start_fleet()``) and reports its key figures with
the ``figures`` fixture (tests/conftest.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_services.layout import SERVICES, FleetLayout
from fleet_services.supervised import SupervisedFleet
from tests.support import free_port


@pytest.fixture
def start_fleet(redis_url: str, key_prefix: str) -> Iterator[Callable[..., SupervisedFleet]]:
    """Start the five services under supervisord; stopped and removed after the test.

    Keyword arguments override :class:`FleetLayout` fields (e.g. ``gate_max_wait="4s"``).
    Each service reads ``FLEET_FAULT_FILE=<run_dir>/faults/<service>``: create that file
    to make its next start fail.
    """
    started: list[SupervisedFleet] = []
    # A short directory: supervisord's Unix socket path must stay under 108 bytes.
    run_dir = Path(tempfile.mkdtemp(prefix="e2e-fleet-", dir="/tmp"))

    def start(**overrides: Any) -> SupervisedFleet:
        faults = run_dir / "faults"
        faults.mkdir(exist_ok=True)
        settings: dict[str, Any] = {
            "run_dir": run_dir,
            "redis_url": redis_url,
            "ports": {name: free_port() for name in SERVICES},
            "key_prefix": f"{key_prefix}:fleet",
            "sdk_key_prefix": f"{key_prefix}:sdk",
            "lifecycle_stream": f"{key_prefix}:sdk:events",
            "restart_stream": f"{key_prefix}:restart:events",
            "drain_deadline": 10.0,
            "min_healthy": "1s",
            "gate_max_wait": "60s",
            "gate_poll_interval": "0.3s",
            "signal_rate": 20.0,
            "env": {name: {"FLEET_FAULT_FILE": str(faults / name)} for name in SERVICES},
        }
        settings.update(overrides)
        fleet = SupervisedFleet(FleetLayout(**settings))
        started.append(fleet)
        fleet.start()
        return fleet

    yield start
    for fleet in started:
        fleet.stop()
    shutil.rmtree(run_dir, ignore_errors=True)
