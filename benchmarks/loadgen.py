"""HTTP load generators: ``wrk`` when installed, else a keep-alive raw-socket client.

The Python client runs in its own process (``python -m benchmarks.loadgen``),
pinned to the core the server does not use. Each of its connections sends one
request at a time over a kept-alive socket (closed loop, like wrk) and times it;
only requests started after the warm-up and finished before the end count.

    python -m benchmarks.loadgen http://127.0.0.1:8000/price/BTCUSDT --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from benchmarks.processes import child_env, pinned
from benchmarks.results import REPO_ROOT, percentile


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def available_generator(preferred: str = "auto") -> str:
    """``wrk`` or ``python``: ``auto`` picks wrk when it is on the PATH."""
    if preferred == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if preferred == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--loadgen wrk: wrk is not installed (apt-get install wrk)")
    return preferred


def run_load(
    generator: str,
    url: str,
    *,
    duration: float,
    warmup: float,
    connections: int,
    cores: set[int] | None,
) -> LoadResult:
    """Load ``url`` for ``warmup + duration`` seconds from a separate, pinned process."""
    if generator == "wrk":
        return _run_wrk(url, duration=duration, warmup=warmup, connections=connections, cores=cores)
    argv = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        url,
        f"--duration={duration}",
        f"--warmup={warmup}",
        f"--connections={connections}",
    ]
    out = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=pinned(cores),
    )
    return LoadResult(**json.loads(out.stdout))


def _run_wrk(
    url: str, *, duration: float, warmup: float, connections: int, cores: set[int] | None
) -> LoadResult:
    def wrk(seconds: float) -> str:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
        return subprocess.run(
            argv, capture_output=True, text=True, check=True, preexec_fn=pinned(cores)
        ).stdout

    if warmup > 0:
        wrk(warmup)
    text = wrk(duration)
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    return LoadResult(
        requests=requests,
        seconds=requests / rps if rps else duration,
        rps=rps,
        p50_ms=_wrk_ms(text, "50%"),
        p99_ms=_wrk_ms(text, "99%"),
        errors=int(errors.group(1)) if errors else 0,
    )


def _wrk_ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {label} latency in wrk's output:\n{text}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


# -- the Python load generator (runs in its own process) ---------------------------------


async def _connection(
    host: str,
    port: int,
    request: bytes,
    measure_from: int,
    stop_at: int,
    latencies: list[int],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            started = time.perf_counter_ns()
            if started >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _content_length(head)
            await reader.readexactly(length)
            finished = time.perf_counter_ns()
            if started >= measure_from and finished <= stop_at:
                latencies.append(finished - started)
                if head[9:12] != b"200":
                    errors.append(1)
    finally:
        writer.close()


def _content_length(head: bytes) -> int:
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError(f"response without content-length: {head!r}")
    end = head.index(b"\r\n", at + 2)
    return int(head[at + 17 : end])


async def _load(url: str, duration: float, warmup: float, connections: int) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: */*\r\n\r\n".encode()
    now = time.perf_counter_ns()
    measure_from = now + int(warmup * 1e9)
    stop_at = measure_from + int(duration * 1e9)
    latencies: list[int] = []
    errors: list[int] = []
    await asyncio.gather(
        *(
            _connection(host, port, request, measure_from, stop_at, latencies, errors)
            for _ in range(connections)
        )
    )
    ordered = sorted(latencies)
    return LoadResult(
        requests=len(ordered),
        seconds=duration,
        rps=len(ordered) / duration,
        p50_ms=percentile(ordered, 50) / 1e6,
        p99_ms=percentile(ordered, 99) / 1e6,
        errors=len(errors),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured first")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    result = asyncio.run(_load(args.url, args.duration, args.warmup, args.connections))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
