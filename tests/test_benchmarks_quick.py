"""The quick benchmarks run end to end: numbers come out, the apps answer, servers exit.

Behaviour only: no timing target is asserted here (``nox -s bench`` measures them).
"""

from __future__ import annotations

import json

from benchmarks import drain, overhead
from benchmarks.results import OUTPUT_DIR


def test_quick_overhead_produces_figures_and_every_app_answers_under_load() -> None:
    """1. three uvicorn servers are loaded in turns  2. the apps are called in-process.
    Result: every variant served its requests with 200s, and every figure has a number."""
    figures = overhead.run(quick=True, loadgen="python")

    assert {f.name for f in figures} >= {"SDK throughput / bare", "SDK p99 / bare p99"}
    assert all(any(ch.isdigit() for ch in f.value) for f in figures)
    results = json.loads((OUTPUT_DIR / "overhead.json").read_text())
    for variant, loads in results["loads"].items():
        assert loads, variant
        assert all(load["requests"] > 0 and load["errors"] == 0 for load in loads), variant
    assert all(cost > 0 for costs in results["cpu_s_per_request"].values() for cost in costs)


def test_quick_drain_answers_every_request_and_every_server_exits() -> None:
    """1. requests of known duration are in flight  2. /admin/shutdown or SIGTERM arrives.
    Result: each server answered all of them, then exited by its re-raised SIGTERM."""
    figures = drain.run(quick=True)

    assert len(figures) == len(drain.VARIANTS)
    results = json.loads((OUTPUT_DIR / "drain.json").read_text())["results"]
    for variant, runs in results.items():
        for run in runs:
            assert run["answered"] == run["in_flight"], variant
            assert run["returncode"] in (-15, 143), variant
            assert run["after_last_request_s"] >= 0, variant
