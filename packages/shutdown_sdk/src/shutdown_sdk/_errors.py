"""Validation error bodies that always encode, whatever the client sent.

FastAPI's own handler echoes the offending input. A JSON body may hold values that
``json.loads`` accepts but a strict JSON response cannot carry: lone surrogate
escapes (``"\\ud800"``: not encodable as UTF-8) and ``NaN``/``Infinity``/``1e999``
(refused by ``allow_nan=False``). Echoed as they are, the error handler itself
fails and the client gets a 500 instead of a 422. The echo is also capped, so an
8 MiB field is not sent back whole.
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

#: Longest echoed string; beyond it the text is cut and its length told.
ECHO_LIMIT = 200

_SURROGATE = re.compile("[\ud800-\udfff]")


def json_safe(value: Any) -> Any:
    """``value`` with lone surrogates replaced (U+FFFD), non-finite floats as text
    (``"nan"``, ``"inf"``) and long strings cut to :data:`ECHO_LIMIT` characters."""
    if isinstance(value, str):
        if len(value) > ECHO_LIMIT:
            value = f"{value[:ECHO_LIMIT]}... ({len(value)} characters)"
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {json_safe(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """422 with FastAPI's ``{"detail": [{"loc", "msg", "type", "input"}, ...]}`` shape."""
    return JSONResponse(
        {"detail": json_safe(jsonable_encoder(exc.errors()))},
        status_code=422,  # Starlette renamed the constant, and warns on the old name
    )
