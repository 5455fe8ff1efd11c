"""Generated fleet files: random dependency DAGs (fixed seed) written as restartctl TOML."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

TOKEN_ENV = "BENCH_ADMIN_TOKEN"


def random_dag(count: int, *, seed: int, max_deps: int = 3) -> dict[str, list[str]]:
    """``count`` services; each depends on up to ``max_deps`` services generated before it."""
    rng = random.Random(seed)
    names = [f"svc-{i:04d}" for i in range(count)]
    return {
        name: sorted(rng.sample(names[:i], rng.randint(0, min(max_deps, i))))
        for i, name in enumerate(names)
    }


def layered_dag(widths: Sequence[int], *, seed: int) -> dict[str, list[str]]:
    """Services in levels of the given widths; each depends on 1-2 of the level before it."""
    rng = random.Random(seed)
    levels: list[list[str]] = []
    deps: dict[str, list[str]] = {}
    for level, width in enumerate(widths):
        names = [f"l{level}-svc-{i:02d}" for i in range(width)]
        for name in names:
            below = levels[-1] if levels else []
            deps[name] = sorted(rng.sample(below, min(len(below), rng.randint(1, 2))))
        levels.append(names)
    return deps


def _toml(value: object) -> str:
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    # JSON strings, numbers, booleans and arrays of them are valid TOML.
    return json.dumps(value)


def write_fleet(
    path: Path,
    *,
    name: str,
    deps: Mapping[str, Sequence[str]],
    backends: Mapping[str, Mapping[str, object]],
    urls: Mapping[str, str],
    state_dir: Path,
    service_options: Mapping[str, object] | None = None,
) -> Path:
    """Write a fleet file: one ``[services.<name>]`` table per service, no checks, file lock."""
    lines = [
        f"name = {_toml(name)}",
        f"state_store = {_toml(str(state_dir))}",
        "",
        "[gate]",
        'max_wait = "30s"',
        'poll_interval = "200ms"',
        "",
        "[lock]",
        'ttl = "1000h"  # longer than the worst case of a generated fleet of 1,000 services',
        "",
    ]
    for service, depends_on in deps.items():
        lines.append(f"[services.{_toml(service)}]")
        lines.append(f"url = {_toml(urls[service])}")
        lines.append(f"token_env = {_toml(TOKEN_ENV)}")
        lines.append(f"depends_on = {_toml(list(depends_on))}")
        for key, value in (service_options or {}).items():
            lines.append(f"{key} = {_toml(value)}")
        lines.append(f"backend = {_toml(backends[service])}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path
