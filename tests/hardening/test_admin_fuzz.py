"""Fuzzing the admin API of a real uvicorn service with schemathesis.

Cases are generated from the service's own OpenAPI schema, valid (positive) and
invalid (negative), sent with the admin token, without it, and with a wrong one.
The service's hooks are all healthy, so no route has a reason to answer 5xx.
"""

from __future__ import annotations

import contextlib
import math
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.schemas import APIOperation

from tests.hardening.conftest import TOKEN, sdk_service
from tests.hardening.fuzzing import error_reason, run_cases
from tests.support import ServerProcess

pytestmark = pytest.mark.slow

EXAMPLES = 40  # per operation and generation mode
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("fuzz")
    with sdk_service(root, env={"SHUTDOWN_ADMIN_TOKEN": TOKEN}) as server:
        yield server


def operations(server: ServerProcess) -> list[APIOperation]:
    schema = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def snapshot_of(server: ServerProcess) -> dict[str, Any]:
    """What a refused call must not change: hook calls (checks aside), state, last save."""
    calls = httpx.get(server.base_url + "/hook-calls", timeout=5).json()
    calls["calls"].pop("check", None)  # /health runs the checks, and needs no token
    status = httpx.get(server.base_url + "/admin/status", headers=AUTH, timeout=5).json()
    return {**calls, "last_save": status["last_save"], "drain": status["drain"]}


def without_auth(headers: dict[str, Any] | None) -> dict[str, Any]:
    """The generated headers minus any generated Authorization (the test sets its own)."""
    return {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}


def assert_answer_keeps_the_contract(case: Case, response: Any) -> None:
    where = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
    assert response.status_code < 500, f"{where} -> {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), f"{where}: {content_type}"
        error_reason(response.json())


def test_fuzzed_admin_calls_with_the_token_never_fail_the_server(
    service: ServerProcess,
) -> None:
    """1. every operation but /admin/shutdown, valid and invalid cases, with the token
    Result: no 5xx; every error is JSON with a reason; the service is still serving."""
    statuses: Counter[int] = Counter()
    total = 0

    def send(case: Case) -> None:
        case.headers = {**without_auth(case.headers), **AUTH}
        response = case.call(base_url=service.base_url, timeout=10)
        statuses[response.status_code] += 1
        assert_answer_keeps_the_contract(case, response)

    for operation in operations(service):
        if operation.path == "/admin/shutdown":
            continue  # fuzzed below, with invalid values only: a valid one would stop the service
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            total += run_cases(operation, mode, EXAMPLES, send)
    print(f"\nadmin fuzz with token: {total} cases, statuses {dict(sorted(statuses.items()))}")
    assert total >= 200
    assert statuses[200] > 0
    assert any(code >= 400 for code in statuses)
    health = httpx.get(service.base_url + "/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["state"] in ("ready", "paused")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-token"}])
def test_fuzzed_admin_calls_without_the_token_change_nothing(
    service: ServerProcess, headers: dict[str, str]
) -> None:
    """1. every /admin/* operation (shutdown included), valid and invalid cases,
    without a token or with a wrong one
    Result: 401/403 (or 4xx for a malformed request) with a JSON reason; no hook
    ran, the state, the last save and the drain are as before."""
    before = snapshot_of(service)
    statuses: Counter[int] = Counter()
    total = 0

    def send(case: Case) -> None:
        case.headers = {**without_auth(case.headers), **headers}
        response = case.call(base_url=service.base_url, timeout=10)
        statuses[response.status_code] += 1
        assert_answer_keeps_the_contract(case, response)
        assert response.status_code in (400, 401, 403, 422), response.text
        assert TOKEN not in response.text

    for operation in operations(service):
        if operation.path.startswith("/admin/"):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                total += run_cases(operation, mode, EXAMPLES // 2, send)
    print(f"\nadmin fuzz, auth {headers or 'missing'}: {total} cases, statuses {dict(statuses)}")
    assert total >= 100
    assert snapshot_of(service) == before
    assert statuses[401 if not headers else 403] > 0


BAD_TIMEOUTS = [
    "-1", "0", "-0", "1e309", "-1e309", "inf", "-inf", "Infinity", "nan", "NaN", "3600.0001",
    "1e4", "abc", "", " ", "1,5", "0x10", "10s", "true", "null", "[1]", "{}", "1 0",
    "9" * 400, "1" + "0" * 5000, "1e-400", "5\x00",
]  # fmt: skip


def test_malformed_shutdown_timeouts_are_refused_and_the_service_keeps_running(
    service: ServerProcess,
) -> None:
    """1. POST /admin/shutdown with timeouts that are negative, zero, out of range,
    not finite or not numbers (a fixed list, then generated text)
    Result: every one is refused with 4xx and a JSON reason; the service never
    begins to drain."""
    url = service.base_url + "/admin/shutdown"
    for value in BAD_TIMEOUTS:
        response = httpx.post(url, params={"timeout": value}, headers=AUTH, timeout=10)
        assert 400 <= response.status_code < 500, (value[:40], response.status_code, response.text)
        error_reason(response.json())

    def is_valid_timeout(text: str) -> bool:
        try:
            value = float(text)
        except ValueError:
            return False
        return math.isfinite(value) and 0 < value <= 3600

    generated = 0

    @settings(max_examples=150, deadline=None, database=None, derandomize=True)
    @given(st.text(max_size=30).filter(lambda text: not is_valid_timeout(text)))
    def refused(value: str) -> None:
        nonlocal generated
        generated += 1
        response = httpx.post(url, params={"timeout": value}, headers=AUTH, timeout=10)
        assert 400 <= response.status_code < 500, (value, response.status_code, response.text)
        error_reason(response.json())

    refused()
    print(f"\nmalformed shutdown timeouts: {len(BAD_TIMEOUTS)} fixed + {generated} generated")
    ready = httpx.get(service.base_url + "/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text


OVERSIZED = 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"reason": "' + b"x" * OVERSIZED + b'"}', "application/json"),
        (b"x" * OVERSIZED, "application/json"),
        (b'{"reason": ', "application/json"),
        (b'{"reason": "ok", "extra": 1}', "application/json"),
        (b'{"reason": 42}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"reason=ok", "application/x-www-form-urlencoded"),
        (b"<xml/>", "text/xml"),
        (b'{"reason": ' * 20000 + b"1" + b"}" * 20000, "application/json"),
    ],
    ids=[
        "8MiB-reason", "8MiB-garbage", "truncated", "unknown-field", "wrong-type", "array",
        "string", "invalid-utf8", "form", "xml", "deeply-nested",
    ],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/admin/pause", "/admin/resume", "/admin/shutdown"])
def test_malformed_and_oversized_bodies_are_refused(
    service: ServerProcess, path: str, content: bytes, content_type: str
) -> None:
    """1. POST a malformed, mistyped, nested or 8 MiB body to an admin route
    Result: 4xx with a JSON reason, and the service still serving (never draining)."""
    response = httpx.post(
        service.base_url + path,
        content=content,
        headers={**AUTH, "Content-Type": content_type},
        timeout=30,
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error_reason(response.json())
    assert httpx.get(service.base_url + "/health/ready", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("content", "loc"),
    [
        (b'{"reason": "\\ud800"}', ["body", "reason"]),
        (b'{"reason": "ok \\udfff"}', ["body", "reason"]),
        (b'{"x\\udc00": 1}', ["body"]),
        (b'"\\ud800"', ["body"]),
        (b'{"reason": NaN}', ["body", "reason"]),
        (b'{"reason": Infinity}', ["body", "reason"]),
        (b'{"reason": -Infinity}', ["body", "reason"]),
        (b'{"reason": 1e999}', ["body", "reason"]),
        (b"[NaN, 1e400]", ["body"]),
    ],
    ids=["lone-surrogate", "lone-low-surrogate", "surrogate-key", "surrogate-string", "NaN",
         "Infinity", "minus-Infinity", "1e999", "array-of-non-finite"],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/admin/pause", "/admin/resume", "/admin/shutdown"])
def test_bodies_that_cannot_be_echoed_as_json_are_refused_with_422(
    service: ServerProcess, path: str, content: bytes, loc: list[str]
) -> None:
    """1. POST a JSON body Python parses but strict JSON cannot carry back (a lone
    surrogate escape, NaN, Infinity, a float overflowing to infinity)
    Result: 422 (not 500: the error handler used to fail to encode its own echo),
    a JSON reason naming the body field; the service keeps serving."""
    response = httpx.post(
        service.base_url + path,
        content=content,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 422, (response.status_code, response.text[:300])
    error_reason(response.json())
    assert response.json()["detail"][-1]["loc"] == loc
    response.content.decode("utf-8")  # strict UTF-8 all through
    assert httpx.get(service.base_url + "/health/ready", timeout=5).status_code == 200


def test_a_refused_oversized_field_is_not_echoed_whole(service: ServerProcess) -> None:
    """1. POST /admin/pause with an 8 MiB reason (over the 200-character limit)
    Result: 422 naming body.reason; the echoed input is cut (the reply stays small)."""
    response = httpx.post(
        service.base_url + "/admin/pause",
        content=b'{"reason": "' + b"x" * OVERSIZED + b'"}',
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 422, response.text[:300]
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "reason"]
    assert error["input"].endswith(f"... ({OVERSIZED} characters)")
    assert len(response.content) < 2048, len(response.content)


def raw_request(port: int, head: bytes) -> bytes:
    """Send a hand-made request (beyond what an HTTP client library would send); the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        reply = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := sock.recv(65536):
                reply += chunk
    return reply


@pytest.mark.parametrize(
    "head",
    [
        b"POST /admin/shutdown?timeout=" + b"9" * 65536 + b" HTTP/1.1\r\n",
        b"GET /admin/status HTTP/1.1\r\nAuthorization: Bearer " + b"x" * 65536 + b"\r\n",
        b"GET /admin/status HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(5000)),
    ],
    ids=["64KiB-query", "64KiB-authorization", "5000-headers"],
)
def test_oversized_query_and_headers_are_refused_without_harm(
    service: ServerProcess, head: bytes
) -> None:
    """1. a request with a 64 KiB query value, a 64 KiB Authorization header, 5000 headers
    Result: refused with 4xx or the connection closed (uvicorn's own limits); the
    service keeps serving."""
    request = head + b"Host: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    reply = raw_request(service.port, request)
    status = reply.split(b" ", 2)[1] if reply else b"(closed)"
    assert status == b"(closed)" or status.startswith(b"4"), reply[:300]
    assert httpx.get(service.base_url + "/health/ready", timeout=5).status_code == 200


def test_valid_shutdown_after_the_fuzzing_still_drains_and_exits(
    service: ServerProcess, tmp_path: Path
) -> None:
    """1. after every fuzz test: one valid POST /admin/shutdown?timeout=2
    Result: 202, the process exits (143) and its last state snapshot is written."""
    response = httpx.post(
        service.base_url + "/admin/shutdown", params={"timeout": "2"}, headers=AUTH, timeout=10
    )
    assert response.status_code == 202, response.text
    assert response.json()["drain_deadline_s"] == 2.0
    assert service.wait_exit(timeout=30) in (-15, 143)
    assert "snapshot NOT written" not in service.output()
