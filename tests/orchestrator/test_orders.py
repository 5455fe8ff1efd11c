"""Startup and shutdown levels from depends_on, and explicit orders checked against it."""

from __future__ import annotations

import pytest

from restart_orchestrator.orders import (
    DependencyCycle,
    check_explicit_order,
    derive_startup_levels,
)

GRAPH = {
    "risk-safety": [],
    "execution": ["risk-safety"],
    "ai-engine": ["execution", "risk-safety"],
    "portfolio-intelligence": ["execution"],
    "monitoring-health": [],
}


def test_levels_group_services_whose_dependencies_are_met() -> None:
    assert derive_startup_levels(GRAPH) == [
        ["risk-safety", "monitoring-health"],
        ["execution"],
        ["ai-engine", "portfolio-intelligence"],
    ]


def test_cycle_names_its_members() -> None:
    with pytest.raises(DependencyCycle) as caught:
        derive_startup_levels({"a": ["b"], "b": ["a"], "c": []})
    assert set(caught.value.members) == {"a", "b"}


def test_explicit_order_may_group_a_level() -> None:
    order = [
        ["risk-safety"],
        ["execution"],
        ["ai-engine", "portfolio-intelligence"],
        "monitoring-health",
    ]
    levels, issues = check_explicit_order("startup_order", order, GRAPH, startup=True)
    assert issues == []
    assert levels[-1] == ["monitoring-health"]


def test_dependant_in_the_same_level_as_its_dependency_is_refused() -> None:
    order = [
        ["risk-safety", "execution"],
        ["ai-engine", "portfolio-intelligence"],
        "monitoring-health",
    ]
    _, issues = check_explicit_order("startup_order", order, GRAPH, startup=True)
    assert [issue.field for issue in issues] == ["startup_order[0][1]"]


def test_shutdown_order_must_stop_dependants_first() -> None:
    order = ["execution", "ai-engine", "portfolio-intelligence", "risk-safety", "monitoring-health"]
    _, issues = check_explicit_order("shutdown_order", order, GRAPH, startup=False)
    assert {issue.field for issue in issues} == {"shutdown_order[1]", "shutdown_order[2]"}
    assert "a dependant must stop first" in issues[0].reason
