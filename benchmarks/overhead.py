"""1. Request overhead: the SDK beside a bare app and the hand-rolled ``BaseHTTPMiddleware``.

Three uvicorn processes (one worker, no access log) serve the same small JSON
endpoint, pinned to one core; the load generator runs pinned to the other.
Rounds are interleaved (a b c, b c a, ...) and each ratio is taken within a round,
so the machine's noise moves both sides of it. A second, steadier figure calls
each ASGI app directly in this process and compares CPU time per request.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message

from benchmarks.apps.trading import BENCH_PATH
from benchmarks.loadgen import LoadResult, available_generator, run_load
from benchmarks.plots import pyplot, save
from benchmarks.processes import Uvicorn, cpu_plan
from benchmarks.results import Figure, Spread, save_json, section

T = TypeVar("T")
NAME = "overhead"
VARIANTS = {
    "bare": "benchmarks.apps.bare:app",
    "sdk": "benchmarks.apps.sdk:app",
    "handrolled": "benchmarks.apps.handrolled:app",
    "sdk_last": "benchmarks.apps.sdk_router_last:app",
}
LABELS = {
    "bare": "(a) bare FastAPI",
    "sdk": "(b) + shutdown SDK",
    "handrolled": "(c) + BaseHTTPMiddleware counter",
    "sdk_last": "(b') + SDK, router included last",
}
PLOT_LABELS = {
    "bare": "(a) bare",
    "sdk": "(b) SDK",
    "handrolled": "(c) BaseHTTP-\nMiddleware",
    "sdk_last": "(b') SDK,\nrouter last",
}
COLORS = {"bare": "#7f7f7f", "sdk": "#2ca02c", "handrolled": "#d62728", "sdk_last": "#98df8a"}
#: A quick run loads the three variants of the issue only (each server costs seconds to start).
QUICK_VARIANTS = ("bare", "sdk", "handrolled")
THROUGHPUT_TARGET = 0.97
P99_TARGET = 1.05


def rotations(names: Sequence[T], rounds: int) -> list[list[T]]:
    """a b c, b c a, c a b, ...: every variant runs first, middle and last equally often."""
    items = list(names)
    return [items[r % len(items) :] + items[: r % len(items)] for r in range(rounds)]


def run(*, quick: bool = False, loadgen: str = "auto") -> list[Figure]:
    section("1. request overhead")
    generator = available_generator(loadgen)
    variants = list(QUICK_VARIANTS if quick else VARIANTS)
    rounds, duration, warmup = (2, 0.5, 0.25) if quick else (12, 2.0, 0.5)
    connections = 16
    server_cores, load_cores = cpu_plan()
    print(
        f"load generator: {generator} ({connections} keep-alive connections, "
        f"{rounds} interleaved rounds x {duration:g} s per variant)"
    )
    print(
        f"pinning: server on cores {sorted(server_cores)}, load on {sorted(load_cores)}"
        if server_cores and load_cores
        else "pinning: unavailable on this machine (processes share all cores)"
    )
    loads = _http_rounds(
        variants, generator, rounds, duration, warmup, connections, server_cores, load_cores
    )
    cpu = asyncio.run(_cpu_rounds(rounds=5 if quick else 41, batch=300 if quick else 1000))

    rps = {v: Spread.of(r.rps for r in loads[v]) for v in variants}
    p50 = {v: Spread.of(r.p50_ms for r in loads[v]) for v in variants}
    p99 = {v: Spread.of(r.p99_ms for r in loads[v]) for v in variants}
    # Paired within each round: the same minute of the same noisy machine.
    rps_ratio = {v: Spread.of(_ratios(loads, v, "rps")) for v in variants}
    p99_ratio = {v: Spread.of(_ratios(loads, v, "p99_ms")) for v in variants}
    # Speed relative to bare: bare's CPU per request over the variant's.
    cpu_speed = {v: Spread.of(b / x for b, x in zip(cpu["bare"], cpu[v], strict=True)) for v in cpu}
    cpu_us = {v: Spread.of(c * 1e6 for c in cpu[v]) for v in cpu}

    for v in variants:
        print(
            f"{LABELS[v]:<34} {rps[v].show('.0f', ' req/s')}  p50 {p50[v].median:.2f} ms  "
            f"p99 {p99[v].show('.2f', ' ms')}  vs bare: x{rps_ratio[v].median:.3f} throughput, "
            f"x{p99_ratio[v].median:.3f} p99 | in-process {cpu_us[v].show('.1f', ' us')} CPU, "
            f"speed x{cpu_speed[v].median:.3f}"
        )
    errors = sum(r.errors for results in loads.values() for r in results)
    if errors:
        print(f"WARNING: {errors} non-200 answers under load")

    save_json(
        NAME,
        {
            "generator": generator,
            "connections": connections,
            "rounds": rounds,
            "duration_s": duration,
            "loads": {v: [asdict(r) for r in loads[v]] for v in variants},
            "cpu_s_per_request": cpu,
        },
    )
    _plot(rps, p99, cpu_us, rps_ratio, p99_ratio, cpu_speed, generator, quick)

    sdk_rps, sdk_p99, sdk_cpu = rps_ratio["sdk"], p99_ratio["sdk"], cpu_speed["sdk"]
    figures = [
        Figure(NAME, "bare app throughput", rps["bare"].show(".0f", " req/s")),
        Figure(
            NAME,
            "SDK throughput / bare",
            f"{sdk_rps.show()} ({generator})",
            f">= {THROUGHPUT_TARGET}x",
            sdk_rps.median >= THROUGHPUT_TARGET,
        ),
        Figure(
            NAME,
            "SDK p99 / bare p99",
            sdk_p99.show(),
            f"<= {P99_TARGET}x",
            sdk_p99.median <= P99_TARGET,
        ),
        Figure(
            NAME,
            "SDK speed / bare, in-process CPU",
            sdk_cpu.show(),
            f">= {THROUGHPUT_TARGET}x",
            sdk_cpu.median >= THROUGHPUT_TARGET,
        ),
        Figure(NAME, "peer: BaseHTTPMiddleware throughput / bare", rps_ratio["handrolled"].show()),
        Figure(NAME, "peer: BaseHTTPMiddleware p99 / bare p99", p99_ratio["handrolled"].show()),
        Figure(NAME, "peer: BaseHTTPMiddleware speed, in-process", cpu_speed["handrolled"].show()),
    ]
    last = "SDK, router included last"
    if "sdk_last" in rps_ratio:
        figures.append(Figure(NAME, f"{last}: throughput / bare", rps_ratio["sdk_last"].show()))
    figures.append(Figure(NAME, f"{last}: speed, in-process", cpu_speed["sdk_last"].show()))
    return figures


def _ratios(loads: dict[str, list[LoadResult]], variant: str, field: str) -> list[float]:
    return [
        getattr(mine, field) / getattr(base, field)
        for mine, base in zip(loads[variant], loads["bare"], strict=True)
    ]


def _http_rounds(
    variants: list[str],
    generator: str,
    rounds: int,
    duration: float,
    warmup: float,
    connections: int,
    server_cores: set[int] | None,
    load_cores: set[int] | None,
) -> dict[str, list[LoadResult]]:
    state_dir = tempfile.mkdtemp(prefix="bench-overhead-")
    env = {
        "SHUTDOWN_ADMIN_TOKEN": "bench-token",
        "SHUTDOWN_STATE_STORE": state_dir,
        "SHUTDOWN_STATE_FALLBACK_DIR": state_dir,
    }
    servers = {
        v: Uvicorn(VARIANTS[v], name=f"overhead-{v}", cores=server_cores, env=env) for v in variants
    }
    loads: dict[str, list[LoadResult]] = {v: [] for v in variants}
    try:
        for server in servers.values():
            server.wait_ready(BENCH_PATH)
        for number, order in enumerate(rotations(variants, rounds), start=1):
            for variant in order:
                result = run_load(
                    generator,
                    servers[variant].base_url + BENCH_PATH,
                    duration=duration,
                    warmup=warmup,
                    connections=connections,
                    cores=load_cores,
                )
                loads[variant].append(result)
            line = "  ".join(f"{v} {loads[v][-1].rps:.0f}" for v in variants)
            print(f"  round {number}/{rounds}: req/s {line}", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    return loads


# -- in-process CPU per request -------------------------------------------------------------


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": BENCH_PATH,
        "raw_path": BENCH_PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _call(app: ASGIApp) -> int:
    status = 0

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(), _receive, send)
    return status


async def _cpu_rounds(*, rounds: int, batch: int) -> dict[str, list[float]]:
    """CPU seconds per request of each app, called directly, ``rounds`` interleaved batches."""
    from asgi_lifespan import LifespanManager

    from benchmarks.apps import bare, handrolled, sdk
    from shutdown_sdk import ShutdownSettings

    state_dir = tempfile.mkdtemp(prefix="bench-inprocess-")
    settings = ShutdownSettings(
        admin_token="bench-token", state_store=state_dir, state_fallback_dir=state_dir
    )
    apps: dict[str, ASGIApp] = {
        "bare": bare.build(),
        "sdk": sdk.build(settings),
        "handrolled": handrolled.build(),
        # The order a careful user would choose: the SDK's routes after the service's.
        "sdk_last": sdk.build(settings, router_first=False),
    }
    costs: dict[str, list[float]] = {v: [] for v in apps}
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(LifespanManager(app))
        for variant, app in apps.items():
            statuses = {await _call(app) for _ in range(200)}
            if statuses != {200}:
                raise RuntimeError(f"{variant} answered {statuses} in-process")
        for order in rotations(list(apps), rounds):
            for variant in order:
                app = apps[variant]
                gc.collect()
                started = time.process_time()
                for _ in range(batch):
                    await _call(app)
                costs[variant].append((time.process_time() - started) / batch)
    return costs


def _plot(
    rps: dict[str, Spread],
    p99: dict[str, Spread],
    cpu_us: dict[str, Spread],
    rps_ratio: dict[str, Spread],
    p99_ratio: dict[str, Spread],
    cpu_speed: dict[str, Spread],
    generator: str,
    quick: bool,
) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    panels = [
        (axes[0], rps, f"throughput, req/s ({generator})", "", None),
        (axes[1], rps_ratio, "throughput / bare (paired rounds)", "x", THROUGHPUT_TARGET),
        (axes[2], p99_ratio, "p99 latency / bare (paired rounds)", "x", P99_TARGET),
        (axes[3], cpu_speed, "in-process speed / bare (CPU per request)", "x", THROUGHPUT_TARGET),
    ]
    for ax, data, title, prefix, target in panels:
        names = list(data)
        medians = [data[v].median for v in names]
        errors = [
            [data[v].median - data[v].low for v in names],
            [data[v].high - data[v].median for v in names],
        ]
        bars = ax.bar(
            [PLOT_LABELS[v] for v in names],
            medians,
            yerr=errors,
            capsize=4,
            color=[COLORS[v] for v in names],
        )
        if target is not None:
            ax.axhline(target, color="#d62728", linestyle="--", linewidth=1)
            ax.annotate(
                f"target {target:g}x",
                (1, target),
                xycoords=("axes fraction", "data"),
                ha="right",
                va="bottom",
                fontsize=8,
                color="#d62728",
            )
        for bar, value in zip(bars, medians, strict=True):
            ax.annotate(
                f"{prefix}{value:.2f}" if prefix else f"{value:.0f}",
                (bar.get_x() + bar.get_width() / 2, 0),
                ha="center",
                va="bottom",
                fontsize=9,
                xytext=(0, 3),
                textcoords="offset points",
                color="white",
                fontweight="bold",
            )
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(
        "Request overhead: medians, whiskers = min-max over interleaved rounds "
        f"(in-process: {cpu_us['bare'].median:.0f} us CPU per bare request)"
    )
    save(fig, NAME, quick=quick)
