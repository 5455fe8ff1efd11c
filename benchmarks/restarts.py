"""Driving ``restartctl`` from the benchmarks, and the physical limit of a restart.

The physical limit of a restart in dependency levels is what the processes
themselves need: the services of one level stop together and start together,
so each level costs its slowest stop, and its slowest boot-to-ready plus the
``min_healthy`` dwell the orchestrator must observe before the next level starts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.processes import child_env
from benchmarks.results import OUTPUT_DIR


def restartctl() -> list[str]:
    beside = Path(sys.executable).with_name("restartctl")
    found = str(beside) if beside.exists() else shutil.which("restartctl")
    if found is None:
        raise SystemExit("restartctl is not installed here: uv sync --all-packages")
    return [found]


def plan_levels(config: Path, env: Mapping[str, str]) -> tuple[list[list[str]], list[list[str]]]:
    """(shutdown levels, startup levels) as ``restartctl plan --json`` derives them."""
    out = subprocess.run(
        [*restartctl(), "plan", "--config", str(config), "--json"],
        env=child_env(env),
        capture_output=True,
        text=True,
        check=True,
    )
    plan = json.loads(out.stdout)
    return plan["shutdown_levels"], plan["startup_levels"]


@dataclass(frozen=True)
class RunOutcome:
    wall_s: float  # the restartctl process, interpreter start included
    report: dict[str, Any]

    @property
    def duration_s(self) -> float:
        """Phases 1-5 as the run report measures them."""
        return float(self.report["duration_s"])

    @property
    def completed(self) -> bool:
        return self.report.get("outcome") == "completed" and self.report.get("exit_code") == 0

    def critical_path_s(
        self, shutdown_levels: Sequence[Sequence[str]], startup_levels: Sequence[Sequence[str]]
    ) -> float:
        """The run's own critical path, from its report: per level the slowest stop, then the
        slowest start (to ready, ``min_healthy`` included). The rest of ``duration_s`` is
        the orchestrator's own time: phases 1, 3 and 5, polls, gaps between levels."""
        services = self.report.get("services", {})

        def stop(name: str) -> float:
            return float((services.get(name, {}).get("stop") or {}).get("duration_s", 0.0))

        def start(name: str) -> float:
            attempts = (services.get(name, {}).get("start") or {}).get("attempts", [])
            return sum(float(a["duration_s"]) for a in attempts)

        return sum(max(map(stop, level)) for level in shutdown_levels) + sum(
            max(map(start, level)) for level in startup_levels
        )

    def phase_start_s(self, number: int) -> float:
        """When the phase began, from the run's start (what came before: lock, gate look)."""
        for phase in self.report.get("phases", []):
            if phase["number"] == number:
                return float(phase["start_s"])
        return 0.0

    def phase_s(self, number: int) -> float:
        for phase in self.report.get("phases", []):
            if phase["number"] == number:
                return float(phase["duration_s"])
        return 0.0


def run_restartctl(
    config: Path, report_path: Path, *, env: Mapping[str, str], log_name: str
) -> RunOutcome:
    """``restartctl run --force-window --report``; its JSON progress goes to bench-output."""
    started = time.perf_counter()
    argv = [*restartctl(), "run", "--config", str(config), "--force-window"]
    argv += ["--output", "json", "--report", str(report_path)]
    out = subprocess.run(argv, env=child_env(env), capture_output=True, text=True)
    wall = time.perf_counter() - started
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUTPUT_DIR / f"{log_name}.jsonl").write_text(out.stdout + out.stderr)
    if out.returncode != 0 or not report_path.exists():
        raise RuntimeError(f"restartctl run exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return RunOutcome(wall, json.loads(report_path.read_text()))


def physical_limit(
    shutdown_levels: Sequence[Sequence[str]],
    startup_levels: Sequence[Sequence[str]],
    stop_s: Mapping[str, float],
    boot_s: Mapping[str, float],
    min_healthy_s: Mapping[str, float],
) -> float:
    """Sum over levels of the slowest stop, plus the slowest boot-to-ready and dwell."""
    stopping = sum(max(stop_s[n] for n in level) for level in shutdown_levels)
    starting = sum(max(boot_s[n] + min_healthy_s[n] for n in level) for level in startup_levels)
    return stopping + starting
