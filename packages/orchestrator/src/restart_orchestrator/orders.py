"""Startup and shutdown orders, as levels of services that may act together.

Derived from ``depends_on`` with :class:`graphlib.TopologicalSorter`: level 0
holds the services that depend on nothing, level 1 what depends only on
level 0, and so on; shutdown walks the levels in reverse. An explicit
``startup_order`` / ``shutdown_order`` overrides the derived one; each entry is
a service (a level of its own) or a list of services (one level, acting in
parallel), and is checked against ``depends_on``.

>>> derive_startup_levels({"api": ["db"], "db": [], "ui": ["api"]})
[['db'], ['api'], ['ui']]
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from restart_orchestrator.errors import ConfigIssue

if TYPE_CHECKING:
    from restart_orchestrator.config import FleetConfig


class DependencyCycle(Exception):
    """``depends_on`` has a cycle; ``members`` lists it, first member repeated last."""

    def __init__(self, members: list[str]) -> None:
        self.members = members
        super().__init__(" -> ".join(members))


def derive_startup_levels(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Levels in startup order; services of one level keep the order of ``graph``."""
    position = {name: index for index, name in enumerate(graph)}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        members = list(exc.args[1])
        raise DependencyCycle(members[::-1]) from None
    levels: list[list[str]] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        levels.append(ready)
        sorter.done(*ready)
    return levels


def _explicit_levels(entries: Sequence[str | Sequence[str]]) -> list[list[str]]:
    return [[entry] if isinstance(entry, str) else list(entry) for entry in entries]


def _where(field: str, levels: list[list[str]], name: str, nested: bool) -> str:
    for index, level in enumerate(levels):
        if name in level:
            return f"{field}[{index}][{level.index(name)}]" if nested else f"{field}[{index}]"
    return field


def check_explicit_order(
    field: str,
    entries: Sequence[str | Sequence[str]],
    graph: Mapping[str, Sequence[str]],
    *,
    startup: bool,
) -> tuple[list[list[str]], list[ConfigIssue]]:
    """Validate an explicit order: every service exactly once, dependencies respected.

    Startup: a service's level comes after the levels of everything it depends on.
    Shutdown: a dependant's level comes before the levels of what it depends on.
    """
    levels = _explicit_levels(entries)
    issues: list[ConfigIssue] = []
    level_of: dict[str, int] = {}
    for index, entry in enumerate(entries):
        members = [entry] if isinstance(entry, str) else list(entry)
        if not members:
            issues.append(ConfigIssue(f"{field}[{index}]", "empty level"))
        for sub, name in enumerate(members):
            where = f"{field}[{index}]" if isinstance(entry, str) else f"{field}[{index}][{sub}]"
            if name not in graph:
                issues.append(ConfigIssue(where, f"unknown service {name!r}"))
            elif name in level_of:
                issues.append(ConfigIssue(where, f"{name!r} appears more than once"))
            else:
                level_of[name] = index
    missing = [name for name in graph if name not in level_of]
    if missing:
        issues.append(ConfigIssue(field, "missing services: " + ", ".join(missing)))
    if issues:
        return levels, issues
    nested = any(not isinstance(entry, str) for entry in entries)
    for name, dependencies in graph.items():
        for dependency in dependencies:
            if dependency not in level_of:
                continue
            where = _where(field, levels, name, nested)
            if startup and level_of[name] <= level_of[dependency]:
                issues.append(
                    ConfigIssue(
                        where,
                        f"{name!r} would start before (or with) "
                        f"{dependency!r}, which it depends on; start {dependency!r} earlier",
                    )
                )
            if not startup and level_of[name] >= level_of[dependency]:
                issues.append(
                    ConfigIssue(
                        where,
                        f"{name!r} would stop after (or with) "
                        f"{dependency!r}, which it depends on; a dependant must stop first",
                    )
                )
    return levels, issues


def derive_levels(
    config: FleetConfig,
) -> tuple[list[list[str]], list[list[str]], list[ConfigIssue]]:
    """(startup levels, shutdown levels, issues) for a fleet config."""
    issues: list[ConfigIssue] = []
    graph: dict[str, list[str]] = {}
    for name, service in config.services.items():
        graph[name] = []
        for index, dependency in enumerate(service.depends_on):
            where = f"services.{name}.depends_on[{index}]"
            if dependency == name:
                issues.append(ConfigIssue(where, f"{name!r} cannot depend on itself"))
            elif dependency not in config.services:
                known = ", ".join(config.services)
                issues.append(
                    ConfigIssue(where, f"unknown service {dependency!r} (services: {known})")
                )
            elif dependency in graph[name]:
                issues.append(ConfigIssue(where, f"{dependency!r} is listed twice"))
            else:
                graph[name].append(dependency)
    if issues:
        return [], [], issues
    try:
        derived = derive_startup_levels(graph)
    except DependencyCycle as cycle:
        first = cycle.members[0]
        return [], [], [ConfigIssue(f"services.{first}.depends_on", f"dependency cycle: {cycle}")]
    startup, shutdown = derived, derived[::-1]
    if config.startup_order is not None:
        startup, found = check_explicit_order(
            "startup_order", config.startup_order, graph, startup=True
        )
        issues += found
    if config.shutdown_order is not None:
        shutdown, found = check_explicit_order(
            "shutdown_order", config.shutdown_order, graph, startup=False
        )
        issues += found
    return startup, shutdown, issues
