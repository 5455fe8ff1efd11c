"""4. Scale: ``restartctl plan`` over 10, 100 and 1,000 services, and a run over 50 services.

Plan: random dependency DAGs (fixed seed) planned in a fresh ``restartctl``
process each time; wall time and peak memory (the process's own ``VmHWM``), sizes
interleaved. The growth from 10 to 1,000 services is the figure: interpreter
start and imports are the same for every size.

Run: 50 light services (:mod:`benchmarks.apps.light`, the admin contract on the
standard library) in 5 dependency levels of 10, each with a known boot time
and drain time. Their critical path is the sum over levels of the slowest stop,
plus the slowest boot and the ``min_healthy`` dwell; a sequential restart needs
the sum over every service. ``restartctl run`` should stay close to the path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fleetgen import TOKEN_ENV, random_dag, write_fleet
from benchmarks.lightfleet import LightFleet
from benchmarks.overhead import rotations
from benchmarks.plots import pyplot, save
from benchmarks.processes import child_env
from benchmarks.restarts import RunOutcome, physical_limit, plan_levels, run_restartctl
from benchmarks.results import REPO_ROOT, Figure, Spread, save_json, section

NAME = "scale"
SIZES = (10, 100, 1000)
SEED = 20261204
TOKEN = "bench-token"
RUN_TARGET = 1.3
MIN_HEALTHY_S = 0.5


def run(*, quick: bool = False) -> list[Figure]:
    section("4. scale")
    figures = _plan_scale(repetitions=2 if quick else 5, quick=quick)
    figures += _light_run(
        repetitions=1 if quick else 3, widths=[4] * 3 if quick else [10] * 5, quick=quick
    )
    return figures


# -- plan over generated fleets ---------------------------------------------------------------


@dataclass(frozen=True)
class PlanSample:
    size: int
    wall_s: float
    peak_rss_mb: float


def _plan_once(config: Path) -> PlanSample:
    """``restartctl plan`` in a fresh process: wall time, and peak RSS as the process saw it."""
    hwm_file = config.with_suffix(".hwm")
    started = time.perf_counter()
    argv = [sys.executable, "-m", "benchmarks.planprobe", str(hwm_file)]
    out = subprocess.run(
        [*argv, "plan", "--config", str(config), "--json"],
        cwd=REPO_ROOT,
        env=child_env({TOKEN_ENV: TOKEN}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"restartctl plan failed on {config}: {out.stderr}")
    size = int(config.stem.removeprefix("fleet-"))
    return PlanSample(size, wall, int(hwm_file.read_text()) / 1024)


def _plan_scale(*, repetitions: int, quick: bool) -> list[Figure]:
    directory = Path(tempfile.mkdtemp(prefix="bench-plan-"))
    configs = {}
    for size in SIZES:
        deps = random_dag(size, seed=SEED)
        configs[size] = write_fleet(
            directory / f"fleet-{size}.toml",
            name=f"generated-{size}",
            deps=deps,
            backends={s: {"kind": "command", "start": "true", "stop": "true"} for s in deps},
            urls={s: f"http://127.0.0.1:{10000 + i}" for i, s in enumerate(deps)},
            state_dir=directory / "state",
        )
    _plan_once(configs[SIZES[0]])  # warm the file cache and bytecode
    samples: dict[int, list[PlanSample]] = {size: [] for size in SIZES}
    for order in rotations(list(SIZES), repetitions):
        for size in order:
            samples[size].append(_plan_once(configs[size]))
    wall = {s: Spread.of(x.wall_s for x in samples[s]) for s in SIZES}
    rss = {s: Spread.of(x.peak_rss_mb for x in samples[s]) for s in SIZES}
    levels = {s: len(plan_levels(configs[s], {TOKEN_ENV: TOKEN})[1]) for s in SIZES}
    _plan_in_process(configs[SIZES[0]], 1)  # imports
    inside = {s: _plan_in_process(configs[s], repetitions) for s in SIZES}
    for size in SIZES:
        cpu_ms, peak_mb = inside[size]
        print(
            f"  plan {size:>5} services ({levels[size]:>3} levels): "
            f"{wall[size].show('.3f', ' s')}, peak RSS {rss[size].median:.1f} MB | in-process: "
            f"load + plan {cpu_ms.show('.1f', ' ms')}, {peak_mb:.1f} MB allocated at peak"
        )
    small, large = SIZES[0], SIZES[-1]
    growth_mb = rss[large].median - rss[small].median
    per_service_ms = (inside[large][0].median - inside[small][0].median) / (large - small)
    save_json(
        f"{NAME}-plan",
        {"samples": {s: [x.__dict__ for x in samples[s]] for s in SIZES}, "levels": levels},
    )
    _plot_plan(wall, rss, inside, levels, quick)
    return [
        Figure(
            NAME,
            f"restartctl plan, {small} -> {large} services",
            f"{wall[small].median:.2f} -> {wall[large].median:.2f} s "
            f"(x{wall[large].median / wall[small].median:.2f}, fresh process)",
        ),
        Figure(
            NAME,
            f"plan: peak RSS {small} -> {large} services",
            f"{rss[small].median:.1f} -> {rss[large].median:.1f} MB (+{growth_mb:.1f} MB)",
        ),
        Figure(
            NAME,
            f"plan {large} services in-process (load + plan)",
            f"{inside[large][0].show('.1f', ' ms')}, {per_service_ms:.3f} ms/service, "
            f"{inside[large][1]:.1f} MB allocated at peak",
        ),
    ]


def _plan_in_process(config: Path, repetitions: int) -> tuple[Spread, float]:
    """(time to load the fleet file and describe its plan, peak MB allocated doing it)."""
    from restart_orchestrator.config import load_fleet
    from restart_orchestrator.plan import describe_plan

    os.environ.setdefault(TOKEN_ENV, TOKEN)
    times = []
    for _ in range(repetitions):
        started = time.perf_counter()
        describe_plan(load_fleet(config))
        times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    describe_plan(load_fleet(config))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Spread.of(times), peak / 1e6


def _plot_plan(
    wall: dict[int, Spread],
    rss: dict[int, Spread],
    inside: dict[int, tuple[Spread, float]],
    levels: dict[int, int],
    quick: bool,
) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 3.8))
    sizes = list(SIZES)

    def whiskers(data: dict[int, Spread], scale: float = 1.0) -> list[list[float]]:
        return [
            [(data[s].median - data[s].low) * scale for s in sizes],
            [(data[s].high - data[s].median) * scale for s in sizes],
        ]

    times = {s: inside[s][0] for s in sizes}
    left.errorbar(sizes, [times[s].median for s in sizes], yerr=whiskers(times), marker="o")
    small = sizes[0]
    linear = [times[small].median * s / small for s in sizes]
    left.plot(sizes, linear, linestyle="--", color="#7f7f7f", label="linear from 10")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("services (random DAG, fixed seed)")
    left.set_ylabel("ms")
    left.set_title("in-process: load the fleet file + plan", fontsize=10)
    left.legend(fontsize=8)
    for s in sizes:
        left.annotate(
            f"{levels[s]} levels",
            (s, times[s].median),
            xytext=(5, -12),
            fontsize=8,
            textcoords="offset points",
        )
    middle.errorbar(sizes, [wall[s].median for s in sizes], yerr=whiskers(wall), marker="o")
    middle.set_xscale("log")
    middle.set_ylim(bottom=0)
    middle.set_xlabel("services")
    middle.set_ylabel("s")
    middle.set_title("restartctl plan, fresh process (wall)", fontsize=10)
    right.plot(sizes, [rss[s].median for s in sizes], marker="o", label="process peak RSS")
    right.plot(sizes, [inside[s][1] for s in sizes], marker="o", label="allocated by load + plan")
    right.set_xscale("log")
    right.set_ylim(bottom=0)
    right.set_xlabel("services")
    right.set_ylabel("MB")
    right.set_title("memory", fontsize=10)
    right.legend(fontsize=8)
    fig.suptitle("restartctl plan over generated fleets: medians, whiskers = min-max")
    save(fig, f"{NAME}-plan", quick=quick)


# -- a run over many light services ------------------------------------------------------------


def _light_run(*, repetitions: int, widths: list[int], quick: bool) -> list[Figure]:
    fleet = LightFleet(
        widths,
        seed=SEED,
        directory=Path(tempfile.mkdtemp(prefix="bench-light-")),
        min_healthy_s=MIN_HEALTHY_S,
    )
    count = len(fleet.specs)
    shutdown_levels, startup_levels = plan_levels(fleet.config, fleet.env)
    dwell = dict.fromkeys(fleet.specs, MIN_HEALTHY_S)
    no_dwell = dict.fromkeys(fleet.specs, 0.0)
    sequential = sum(s.drain_s + s.boot_s + MIN_HEALTHY_S for s in fleet.specs.values())
    print(
        f"  run over {count} light services in {len(startup_levels)} levels "
        f"(boot 0.2-1.0 s, drain 0.1-0.5 s, min_healthy {MIN_HEALTHY_S:g} s)"
    )
    limits: list[float] = []
    bare_limits: list[float] = []  # without the min_healthy dwell
    runs: list[RunOutcome] = []
    try:
        for number in range(1, repetitions + 1):
            # The limit is measured right before each run: the same minute of the same machine.
            fleet.start_all()
            stop_s, boot_s = fleet.restart_directly(shutdown_levels, startup_levels)
            limits.append(physical_limit(shutdown_levels, startup_levels, stop_s, boot_s, dwell))
            bare_limits.append(
                physical_limit(shutdown_levels, startup_levels, stop_s, boot_s, no_dwell)
            )
            fleet.start_all()
            outcome = run_restartctl(
                fleet.config,
                fleet.directory / f"report-{number}.json",
                env=fleet.env,
                log_name="scale-run-progress",
            )
            runs.append(outcome)
            print(
                f"  run {number}/{repetitions}: restartctl {outcome.duration_s:.2f} s "
                f"(process {outcome.wall_s:.2f} s), limit {limits[-1]:.2f} s: "
                f"x{outcome.duration_s / limits[-1]:.2f} ({outcome.report.get('outcome')})",
                flush=True,
            )
    finally:
        fleet.stop_all()
    ratio = Spread.of(r.duration_s / limit for r, limit in zip(runs, limits, strict=True))
    strict = Spread.of(r.duration_s / limit for r, limit in zip(runs, bare_limits, strict=True))
    took = Spread.of(r.duration_s for r in runs)
    limit = Spread.of(limits)
    bare = Spread.of(bare_limits)
    levels = (shutdown_levels, startup_levels)
    own = Spread.of(r.duration_s - r.critical_path_s(*levels) for r in runs)
    preamble = Spread.of(r.phase_start_s(1) for r in runs)
    save_json(
        f"{NAME}-run",
        {
            "services": {n: s.__dict__ for n, s in fleet.specs.items()},
            "shutdown_levels": shutdown_levels,
            "startup_levels": startup_levels,
            "limits_s": limits,
            "limits_without_dwell_s": bare_limits,
            "sequential_s": sequential,
            "runs": [{"wall_s": r.wall_s, "report": r.report} for r in runs],
        },
    )
    _plot_run(limit, bare, took, own, sequential, count, quick)
    completed = all(r.completed for r in runs)
    return [
        Figure(
            NAME,
            f"run {count} services / limit (stops + boots + {MIN_HEALTHY_S:g} s dwell a level)",
            f"{ratio.show()} ({took.median:.1f} s vs {limit.median:.1f} s)",
            f"<= {RUN_TARGET}x",
            ratio.median <= RUN_TARGET and completed,
        ),
        Figure(
            NAME,
            f"run {count} services / limit without the dwell",
            f"{strict.show()} ({took.median:.1f} s vs {bare.median:.1f} s)",
            f"<= {RUN_TARGET}x",
            strict.median <= RUN_TARGET and completed,
        ),
        Figure(
            NAME,
            f"run {count} services: restartctl's own time (before phase 1)",
            f"{own.show('.2f', ' s')} ({preamble.median:.2f} s)",
        ),
        Figure(
            NAME,
            "peer: sequential restart, same services (computed)",
            f"{sequential:.1f} s (x{sequential / limit.median:.1f} the limit)",
        ),
    ]


def _plot_run(
    limit: Spread,
    bare: Spread,
    took: Spread,
    own: Spread,
    sequential: float,
    count: int,
    quick: bool,
) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(9, 3.2))
    rows = ["physical limit (levels)", "restartctl run", "sequential (computed)"]
    ax.barh(rows[0], bare.median, color="#7f7f7f", label="stops + boots")
    ax.barh(
        rows[0],
        limit.median - bare.median,
        left=bare.median,
        color="#c7c7c7",
        label=f"min_healthy dwell ({MIN_HEALTHY_S:g} s a level)",
    )
    path = took.median - own.median
    ax.barh(rows[1], path, color="#2ca02c", label="its critical path (from its report)")
    ax.barh(rows[1], own.median, left=path, color="#98df8a", label="restartctl's own time")
    ax.barh(rows[2], sequential, color="#d62728", label="one service after the other")
    for y, value in enumerate([limit.median, took.median, sequential]):
        ax.annotate(f"{value:.1f} s", (value, y), xytext=(5, -3), textcoords="offset points")
    ax.invert_yaxis()
    ax.set_xlim(0, sequential * 1.12)
    ax.set_xlabel("seconds (medians)")
    ax.set_title(f"Restart of {count} light services in dependency levels", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, f"{NAME}-run", quick=quick)
