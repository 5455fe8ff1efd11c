"""Durations in the fleet file: seconds as a number, or ``"30s"``, ``"5m"``, ``"1h30m"``.

>>> parse_duration("1h30m")
5400.0
>>> parse_duration(2.5)
2.5
>>> format_duration(5400)
'1h30m'
>>> parse_duration(1e300)
Traceback (most recent call last):
ValueError: invalid duration 1e+300: longer than a year
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_HINT = "use seconds (30) or a string like '500ms', '30s', '5m', '1h30m'"
#: Longer than any bound a restart needs, short enough for every timer and socket timeout.
MAX_DURATION_S = 366 * 24 * 3600.0


def parse_duration(value: object) -> float:
    """Seconds from a number or a duration string; ``ValueError`` says what is accepted."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond float range (TOML integers are unbounded)
            raise ValueError(f"invalid duration {value}: too large") from None
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _PART.findall(text)
            if not parts or "".join(number + unit for number, unit in parts) != text:
                raise ValueError(f"invalid duration {value!r}: {_HINT}")
            seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    else:
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"invalid duration {value!r}: must be a finite number >= 0")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"invalid duration {value!r}: longer than a year")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: ``90`` -> ``'1m30s'``, ``0.25`` -> ``'250ms'``."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    text += f"{secs}s" if secs or not text else ""
    return text


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A pydantic field type: seconds, accepting every form :func:`parse_duration` accepts."""
