"""2. Drain latency: from the last in-flight request completing to the process exiting.

K requests of known duration are in flight when the stop arrives, by
``POST /admin/shutdown`` or by SIGTERM. The SDK exits as soon as they are done
(then saves and closes); the original runbook sleeps a fixed 5 s "to let requests
finish" whatever is in flight. uvicorn alone (no SDK, SIGTERM) is shown too: it
waits for open HTTP requests as well, but knows nothing of work units or state.
Every repetition starts a fresh server; the variants take turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

import httpx

from benchmarks.apps.trading import BENCH_PATH
from benchmarks.overhead import rotations
from benchmarks.plots import pyplot, save
from benchmarks.processes import Uvicorn, cpu_plan
from benchmarks.results import Figure, Spread, save_json, section

NAME = "drain"
TOKEN = "bench-token"
TARGET_S = 0.25
NAIVE_SLEEP_S = 5.0  # the original runbook's figure
QUICK_NAIVE_SLEEP_S = 1.0  # a quick run checks behaviour, not the runbook's wait


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    app: str
    stop: str  # "admin" or "sigterm"
    meets_target: bool  # whether the 0.25 s target applies (the SDK's variants)

    def show(self, naive_sleep: float) -> str:
        return self.label.format(sleep=naive_sleep)


VARIANTS = [
    Variant("sdk-admin", "SDK, POST /admin/shutdown", "benchmarks.apps.sdk:app", "admin", True),
    Variant("sdk-sigterm", "SDK, SIGTERM", "benchmarks.apps.sdk:app", "sigterm", True),
    Variant(
        "naive-admin",
        "runbook: sleep({sleep:g}) in /admin/shutdown",
        "benchmarks.apps.naive:app",
        "admin",
        False,
    ),
    Variant(
        "naive-sigterm",
        "runbook: sleep({sleep:g}) in shutdown on SIGTERM",
        "benchmarks.apps.naive:app",
        "sigterm",
        False,
    ),
    Variant(
        "uvicorn-sigterm", "uvicorn alone, SIGTERM", "benchmarks.apps.bare:app", "sigterm", False
    ),
]


#: A quick run leaves out uvicorn alone (the same SIGTERM path as the SDK's, without it).
QUICK_VARIANTS = [v for v in VARIANTS if v.key != "uvicorn-sigterm"]


@dataclass(frozen=True)
class DrainResult:
    variant: str
    after_last_request_s: float  # exit - last response
    stop_to_exit_s: float
    answered: int  # requests answered 200
    in_flight: int  # K
    returncode: int


def run(*, quick: bool = False) -> list[Figure]:
    section("2. drain latency")
    repetitions, in_flight, duration = (1, 4, 0.5) if quick else (5, 8, 1.0)
    naive_sleep = QUICK_NAIVE_SLEEP_S if quick else NAIVE_SLEEP_S
    variants = QUICK_VARIANTS if quick else VARIANTS
    print(
        f"{in_flight} requests of {duration:g} s in flight when the stop arrives; "
        f"{repetitions} repetition(s) per variant, fresh server each"
    )
    server_cores, _ = cpu_plan()
    results: dict[str, list[DrainResult]] = {v.key: [] for v in variants}
    by_key = {v.key: v for v in variants}
    for order in rotations([v.key for v in variants], repetitions):
        for key in order:
            result = measure(
                by_key[key],
                in_flight=in_flight,
                duration=duration,
                cores=server_cores,
                naive_sleep=naive_sleep,
            )
            results[key].append(result)
            print(
                f"  {by_key[key].show(naive_sleep):<42} exit "
                f"{result.after_last_request_s:6.3f} s after the last request "
                f"({result.answered}/{result.in_flight} answered, rc {result.returncode})",
                flush=True,
            )
    spreads = {k: Spread.of(r.after_last_request_s for r in results[k]) for k in results}
    save_json(
        NAME,
        {
            "in_flight": in_flight,
            "request_s": duration,
            "naive_sleep_s": naive_sleep,
            "results": {k: [asdict(r) for r in v] for k, v in results.items()},
        },
    )
    _plot(variants, spreads, in_flight, duration, naive_sleep, quick)
    figures = []
    for variant in variants:
        answered = sum(r.answered for r in results[variant.key])
        sent = sum(r.in_flight for r in results[variant.key])
        value = f"{spreads[variant.key].show('.3f', ' s')}, {answered}/{sent} answered"
        if variant.meets_target:
            met = spreads[variant.key].median <= TARGET_S and answered == sent
            label = variant.show(naive_sleep)
            figures.append(Figure(NAME, label, value, f"<= {TARGET_S} s, none cut", met))
        else:
            figures.append(Figure(NAME, f"peer: {variant.show(naive_sleep)}", value))
    return figures


def measure(
    variant: Variant,
    *,
    in_flight: int,
    duration: float,
    cores: set[int] | None,
    naive_sleep: float = NAIVE_SLEEP_S,
) -> DrainResult:
    """Start a fresh server, put ``in_flight`` requests in flight, stop it, time its exit."""
    state_dir = tempfile.mkdtemp(prefix="bench-drain-")
    env = {
        "SHUTDOWN_ADMIN_TOKEN": TOKEN,
        "SHUTDOWN_STATE_STORE": state_dir,
        "SHUTDOWN_STATE_FALLBACK_DIR": state_dir,
        "NAIVE_STATE_DIR": state_dir,
        "NAIVE_SHUTDOWN_SLEEP": str(naive_sleep),
    }
    server = Uvicorn(variant.app, name=f"drain-{variant.key}", cores=cores, env=env)
    try:
        server.wait_ready(BENCH_PATH)
        return asyncio.run(_drain_once(variant, server, in_flight, duration))
    finally:
        server.stop()


async def _drain_once(
    variant: Variant, server: Uvicorn, in_flight: int, duration: float
) -> DrainResult:
    exited_at: list[float] = []

    def wait_exit() -> None:
        server.process.wait()
        exited_at.append(time.perf_counter())

    waiter = threading.Thread(target=wait_exit, daemon=True)
    waiter.start()
    limits = httpx.Limits(max_connections=in_flight + 2)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:

        async def work() -> tuple[int, float]:
            try:
                response = await client.get("/work", params={"seconds": duration})
                return response.status_code, time.perf_counter()
            except httpx.HTTPError:
                return 0, time.perf_counter()

        requests = [asyncio.create_task(work()) for _ in range(in_flight)]
        await asyncio.sleep(min(0.3, duration / 2))  # all of them are in the handler now
        stop_at = time.perf_counter()
        stop_request = None
        if variant.stop == "sigterm":
            server.process.terminate()
        else:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            # The runbook's handler answers only after its sleep: do not wait for it here.
            stop_request = asyncio.create_task(client.post("/admin/shutdown", headers=headers))
        answers = await asyncio.gather(*requests)
        if stop_request is not None:
            # The server may go away while answering: it did exit.
            with contextlib.suppress(httpx.HTTPError):
                await stop_request
    await asyncio.to_thread(waiter.join, 60)
    if not exited_at:
        raise RuntimeError(f"{variant.label}: the server did not exit:\n{server.output()}")
    last = max(finished for _, finished in answers)
    return DrainResult(
        variant=variant.key,
        after_last_request_s=exited_at[0] - last,
        stop_to_exit_s=exited_at[0] - stop_at,
        answered=sum(1 for status, _ in answers if status == 200),
        in_flight=in_flight,
        returncode=server.process.returncode,
    )


def _plot(
    variants: list[Variant],
    spreads: dict[str, Spread],
    in_flight: int,
    duration: float,
    naive_sleep: float,
    quick: bool,
) -> None:
    plt = pyplot()
    if plt is None:
        return
    labels = [v.show(naive_sleep) for v in variants]
    medians = [spreads[v.key].median for v in variants]
    errors = [
        [spreads[v.key].median - spreads[v.key].low for v in variants],
        [spreads[v.key].high - spreads[v.key].median for v in variants],
    ]
    colors = ["#2ca02c" if v.meets_target else "#7f7f7f" for v in variants]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.barh(labels, medians, xerr=errors, capsize=4, color=colors)
    ax.axvline(TARGET_S, color="#d62728", linestyle="--", label=f"target {TARGET_S} s")
    for y, value in enumerate(medians):
        ax.annotate(f"{value:.3f} s", (value, y), xytext=(6, -3), textcoords="offset points")
    ax.invert_yaxis()
    ax.set_xlabel("seconds from the last in-flight request's answer to process exit")
    ax.set_title(f"Drain latency ({in_flight} requests of {duration:g} s in flight)", fontsize=10)
    ax.legend(loc="lower right")
    save(fig, NAME, quick=quick)
