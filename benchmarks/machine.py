"""What the numbers were measured on: date, cores, CPU, versions, and how busy the machine was."""

from __future__ import annotations

import datetime
import os
import platform
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("fastapi", "starlette", "uvicorn", "shutdown-sdk", "restart-orchestrator")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """The 1-minute load average: above the core count, other work competed for the CPU."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def describe() -> dict[str, object]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
    }


def headline(machine: dict[str, object]) -> str:
    versions = machine["versions"]
    assert isinstance(versions, dict)
    shown = ", ".join(f"{k} {v}" for k, v in versions.items())
    return (
        f"{machine['date']}, {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['system']}, Python {machine['python']}; {shown}"
    )
