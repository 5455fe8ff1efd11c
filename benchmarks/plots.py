"""matplotlib without a display; a benchmark still runs (without its plot) when it is missing."""

from __future__ import annotations

from typing import Any

from benchmarks.results import plot_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or ``None`` when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return None
    return plt


def save(fig: Any, name: str, *, quick: bool) -> None:
    import matplotlib.pyplot as plt

    path = plot_path(name, quick=quick)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot: {path}")
