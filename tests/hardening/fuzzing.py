"""Drive schemathesis-generated cases through a plain hypothesis loop, counting them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.schemas import APIOperation


def run_cases(
    operation: APIOperation,
    mode: GenerationMode,
    examples: int,
    on_case: Callable[[Case], Any],
) -> int:
    """Call ``on_case`` on up to ``examples`` generated cases; the number of cases run."""
    count = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Case) -> None:
        nonlocal count
        count += 1
        on_case(case)

    # Nothing to make invalid (no parameters, no body): negative mode has no case.
    with contextlib.suppress(Unsatisfiable):
        check()
    return count


def error_reason(body: Any) -> str:
    """The reason an error body gives: FastAPI's ``detail`` string or validation list."""
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    detail = body.get("detail")
    if isinstance(detail, list):
        assert detail, "empty validation error list"
        return "; ".join(str(item["msg"]) for item in detail)
    assert isinstance(detail, str), f"error body has no detail string: {body!r}"
    assert detail.strip(), "empty detail"
    return detail
