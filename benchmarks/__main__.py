"""``python -m benchmarks [overhead|drain|fleet|scale ...] [--quick] [--loadgen wrk|python]``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from benchmarks import drain, fleet, overhead, scale
from benchmarks.results import Figure, save_json, section, summary_table

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
    started = time.monotonic()
    figures: list[Figure] = []
    for name in names:
        options = {"quick": args.quick}
        if name == "overhead":
            options["loadgen"] = args.loadgen
        figures += BENCHMARKS[name](**options)
    elapsed = time.monotonic() - started
    section(f"summary ({'quick' if args.quick else 'full'} run, {elapsed:.0f} s)")
    print(summary_table(figures))
    save_json("summary", {"quick": args.quick, "elapsed_s": elapsed, "figures": figures})
    missed = [f for f in figures if f.met is False]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
