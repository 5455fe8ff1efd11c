"""``python -m benchmarks [overhead|drain|fleet|scale ...] [--quick] [--loadgen wrk|python]``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from benchmarks import drain, fleet, overhead, scale
from benchmarks.machine import describe, headline, load_average
from benchmarks.results import OUTPUT_DIR, Figure, save_json, section, summary_table

BENCHMARKS: dict[str, Callable[..., list[Figure]]] = {
    "overhead": overhead.run,
    "drain": drain.run,
    "fleet": fleet.run,
    "scale": scale.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        choices=[*BENCHMARKS, []],
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="a short version of each")
    parser.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="HTTP load generator for the overhead benchmark (auto: wrk when installed)",
    )
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    machine = describe()
    print(f"machine: {headline(machine)}")
    started = time.monotonic()
    figures: list[Figure] = []
    # The load average around each benchmark says how much other work shared the machine.
    load: dict[str, tuple[float | None, float | None]] = {}
    for name in names:
        options = {"quick": args.quick}
        if name == "overhead":
            options["loadgen"] = args.loadgen
        before = load_average()
        figures += BENCHMARKS[name](**options)
        load[name] = (before, load_average())
    elapsed = time.monotonic() - started
    section(f"summary ({'quick' if args.quick else 'full'} run, {elapsed:.0f} s)")
    print(f"machine: {headline(machine)}")
    print(
        "1-min load average before -> after: "
        + ", ".join(f"{name} {a} -> {b}" for name, (a, b) in load.items())
    )
    table = summary_table(figures)
    print(table)
    save_json(
        "summary",
        {
            "quick": args.quick,
            "elapsed_s": elapsed,
            "machine": machine,
            "load_average": load,
            "figures": figures,
        },
    )
    (OUTPUT_DIR / "summary.md").write_text(f"{headline(machine)}\n\n{table}\n")
    missed = [f for f in figures if f.met is False]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
