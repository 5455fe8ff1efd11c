"""The quick benchmarks run end to end: numbers come out, the apps answer, servers exit.

Behaviour only: no timing target is asserted here (``nox -s bench`` measures them).
"""

from __future__ import annotations

import json

import pytest

from benchmarks import drain, overhead
from benchmarks.fleetgen import layered_dag, random_dag
from benchmarks.overhead import rotations
from benchmarks.restarts import physical_limit
from benchmarks.results import OUTPUT_DIR, Figure, Spread, percentile, summary_table


def test_quick_overhead_produces_figures_and_every_app_answers_under_load() -> None:
    """1. three uvicorn servers are loaded in turns  2. the apps are called in-process.
    Result: every variant served its requests with 200s, and every figure has a number."""
    figures = overhead.run(quick=True, loadgen="python")

    assert {f.name for f in figures} >= {"SDK throughput / bare", "SDK p99 / bare p99"}
    assert all(any(ch.isdigit() for ch in f.value) for f in figures)
    results = json.loads((OUTPUT_DIR / "overhead.json").read_text())
    assert set(results["loads"]) == set(overhead.QUICK_VARIANTS)
    for variant, loads in results["loads"].items():
        assert loads, variant
        assert all(load["requests"] > 0 and load["errors"] == 0 for load in loads), variant
    assert all(cost > 0 for costs in results["cpu_s_per_request"].values() for cost in costs)


def test_quick_drain_answers_every_request_and_every_server_exits() -> None:
    """1. requests of known duration are in flight  2. /admin/shutdown or SIGTERM arrives.
    Result: each server answered all of them, then exited by its re-raised SIGTERM."""
    figures = drain.run(quick=True)

    assert len(figures) == len(drain.QUICK_VARIANTS)
    results = json.loads((OUTPUT_DIR / "drain.json").read_text())["results"]
    for variant, runs in results.items():
        for run in runs:
            assert run["answered"] == run["in_flight"], variant
            assert run["returncode"] in (-15, 143), variant
            assert run["after_last_request_s"] >= 0, variant


def test_physical_limit_is_the_slowest_stop_plus_slowest_boot_and_dwell_per_level() -> None:
    stop = {"a": 1.0, "b": 3.0, "c": 0.5}
    boot = {"a": 2.0, "b": 0.5, "c": 4.0}
    dwell = dict.fromkeys(stop, 1.0)

    # Stops: c, then a+b together (3.0); starts: a+b together (2.0 + 1.0), then c (4.0 + 1.0).
    limit = physical_limit([["c"], ["a", "b"]], [["a", "b"], ["c"]], stop, boot, dwell)

    assert limit == pytest.approx(0.5 + 3.0 + 3.0 + 5.0)


def test_generated_fleets_are_acyclic_and_reproducible() -> None:
    deps = random_dag(200, seed=7)
    order = list(deps)
    assert all(order.index(d) < order.index(s) for s, ds in deps.items() for d in ds)
    assert random_dag(200, seed=7) == deps

    layered = layered_dag([3, 4, 2], seed=7)
    assert len(layered) == 9
    assert all(d.startswith("l0-") for s, ds in layered.items() if s.startswith("l1-") for d in ds)
    assert all(ds for s, ds in layered.items() if not s.startswith("l0-"))


def test_rounds_rotate_so_every_variant_runs_in_every_position() -> None:
    orders = rotations(["a", "b", "c"], 3)

    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]


def test_spread_percentile_and_summary_table() -> None:
    spread = Spread.of([3.0, 1.0, 2.0, 10.0])
    assert (spread.median, spread.low, spread.high, spread.n) == (2.5, 1.0, 10.0, 4)
    assert spread.show(".1f", " s") == "2.5 s [1.0-10.0 s, n=4]"
    hundred = [float(i) for i in range(1, 101)]
    assert (percentile(hundred, 50), percentile(hundred, 99), percentile(hundred, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([5.0], 99) == 5.0
    with pytest.raises(ValueError, match="no values"):
        Spread.of([])

    figures = [Figure("x", "ratio", "0.99", ">= 0.97x", True), Figure("x", "peer", "1")]
    table = summary_table(figures)
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in table.splitlines()]
    assert rows[0] == ["benchmark", "figure", "value", "target", "met"]
    assert rows[2] == ["x", "ratio", "0.99", ">= 0.97x", "yes"]
    assert rows[3] == ["x", "peer", "1", "-", "-"]
    assert len({len(line) for line in table.splitlines()}) == 1  # columns aligned
