"""Figures, their targets, the summary table and the small statistics every benchmark uses."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Logs, JSON results and quick-run plots (git-ignored).
OUTPUT_DIR = REPO_ROOT / "bench-output"
#: Plots of full runs, committed beside the README that shows them.
PLOTS_DIR = Path(__file__).resolve().parent / "plots"


@dataclass(frozen=True)
class Figure:
    """One number of the summary table, with its target and whether it met it.

    ``met`` is ``None`` for figures shown for comparison only (the peers).
    """

    benchmark: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclass(frozen=True)
class Spread:
    """Median of repetitions with their minimum and maximum."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        data = sorted(values)
        if not data:
            raise ValueError("no values to summarise")
        return cls(statistics.median(data), data[0], data[-1], len(data))

    def show(self, fmt: str = ".3f", unit: str = "") -> str:
        """``0.981x [0.962-0.995, n=5]``: the median, then the range over repetitions."""
        return f"{self.median:{fmt}}{unit} [{self.low:{fmt}}-{self.high:{fmt}}{unit}, n={self.n}]"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (``q`` in 0..100)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def ok_mark(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def summary_table(figures: Sequence[Figure]) -> str:
    """The figures as one plain-text table (also valid Markdown)."""
    rows = [("benchmark", "figure", "value", "target", "met")]
    rows += [(f.benchmark, f.name, f.value, f.target or "-", ok_mark(f.met)) for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def save_json(name: str, data: object) -> Path:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=_jsonable))
    return path


def _jsonable(value: object) -> object:
    if isinstance(value, Figure | Spread):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def plot_path(name: str, *, quick: bool) -> Path:
    """Where a plot goes: beside the README for full runs, in bench-output for quick ones."""
    directory = OUTPUT_DIR if quick else PLOTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}.png"


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)
