"""``restartctl plan`` in a fresh process that reports its own peak memory.

    python -m benchmarks.planprobe HWM_FILE restartctl-arguments...

Runs restartctl's console entry point with the given arguments, then writes the
process's peak resident set (``VmHWM``, KiB) to ``HWM_FILE``. The parent cannot
take it from ``ru_maxrss``: Linux carries the forking parent's peak across
``exec``, so every child would report the benchmark's own ~120 MB.
"""

from __future__ import annotations

import sys
from pathlib import Path


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (not Linux?)")


def main() -> int:
    hwm_file, *arguments = sys.argv[1:]
    from restart_orchestrator.cli import main as restartctl

    sys.argv = ["restartctl", *arguments]
    try:
        restartctl()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    Path(hwm_file).write_text(str(peak_rss_kib()))
    return code


if __name__ == "__main__":
    sys.exit(main())
