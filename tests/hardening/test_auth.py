"""The admin token: never shown, compared in constant time, required, read safely.

SDK side over real uvicorn processes (their whole output captured), orchestrator
side through ``restartctl validate`` on token files of every permission.
"""

from __future__ import annotations

import ast
import inspect
import os
import signal
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from click.testing import CliRunner
from fastapi import FastAPI

from restart_orchestrator.cli import cli
from shutdown_sdk import Lifecycle, ShutdownSettings, admin_router
from shutdown_sdk import _routes as sdk_routes
from shutdown_sdk.testing import MemoryStateStore, run_lifecycle
from tests.hardening.conftest import TOKEN, sdk_service
from tests.support.admin_contract import ADMIN_ROUTES, SHUTDOWN_ROUTE

AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEAR_MISSES = [
    TOKEN[:-1],  # a prefix
    TOKEN + "x",  # an extension
    TOKEN.upper(),
    TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1"),  # one character off
    TOKEN.replace("-", "_"),
]


def every_file_under(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_token_never_appears_in_output_answers_snapshots_or_events(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    """1. a service with the token, debug logs, Redis events and a file store
    2. every admin route with the token, near misses of it, a missing one and
    other schemes; a save; a shutdown by admin call
    3. a second service stopped by SIGTERM
    Result: the token is in no answer, no log line, no snapshot, no event."""
    env = {
        "SHUTDOWN_ADMIN_TOKEN": TOKEN,
        "SHUTDOWN_REDIS_URL": redis_url,
        "SHUTDOWN_KEY_PREFIX": key_prefix,
        "SHUTDOWN_EVENTS_STREAM": f"{key_prefix}:events",
    }
    answers: list[str] = []
    logs = []
    with sdk_service(tmp_path, env={**env, "UVICORN_LOG_LEVEL": "debug"}) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            for method, path in ADMIN_ROUTES:
                answers.append(client.request(method, path, headers=AUTH).text)
                for wrong in NEAR_MISSES:
                    headers = {"Authorization": f"Bearer {wrong}"}
                    response = client.request(method, path, headers=headers)
                    assert response.status_code in (401, 403), (wrong, response.status_code)
                    answers.append(response.text)
                for header in ("", f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}", "Bearer"):
                    response = client.request(method, path, headers={"Authorization": header})
                    assert response.status_code in (401, 403), (header, response.status_code)
                    answers.append(response.text)
            answers.append(client.get("/health").text)
            answers.append(client.get("/metrics").text)
            answers.append(client.post("/admin/shutdown", headers=AUTH).text)
        assert server.wait_exit(timeout=30) in (-15, 143)
        logs.append(server.output())
    with sdk_service(tmp_path, env=env, name="svc2") as server:
        server.signal(signal.SIGTERM)
        assert server.wait_exit(timeout=30) in (-15, 143)
        logs.append(server.output())
    client = redis.Redis.from_url(redis_url)
    try:
        events = [str(fields) for _, fields in client.xrange(f"{key_prefix}:events")]
        keys = {key: client.dump(key) for key in client.scan_iter(match=f"{key_prefix}*")}
    finally:
        client.close()
    assert events, "no lifecycle events were published"
    assert any("drain" in line for line in logs[0].splitlines()), "the output was not captured"
    assert not [answer for answer in answers if TOKEN in answer]
    for log in logs:
        assert TOKEN not in log
    for path, content in every_file_under(tmp_path).items():
        if path.suffix != ".log":
            assert TOKEN.encode() not in content, path
    assert not [event for event in events if TOKEN in event]
    assert not [key for key, value in keys.items() if value and TOKEN.encode() in value]


def test_admin_status_says_a_token_is_configured_not_which(tmp_path: Path) -> None:
    """1. GET /admin/status  Result: settings show admin_token_configured: true, no value."""
    with sdk_service(tmp_path, env={"SHUTDOWN_ADMIN_TOKEN": TOKEN}) as server:
        status = httpx.get(server.base_url + "/admin/status", headers=AUTH, timeout=5).json()
    assert status["settings"]["admin_token_configured"] is True
    assert TOKEN not in str(status)


def test_the_token_is_compared_with_hmac_compare_digest_only() -> None:
    """Code-level: the check in require_admin calls hmac.compare_digest and compares
    nothing derived from the secret with == / != / in (which stop at the first
    differing byte)."""
    source = textwrap.dedent(inspect.getsource(sdk_routes.require_admin))
    tree = ast.parse(source)
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "hmac.compare_digest"
    ]  # fmt: skip
    assert len(calls) == 1
    assert "get_secret_value" in ast.unparse(calls[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            text = ast.unparse(node)
            assert "get_secret_value" not in text, text
            assert "credentials.credentials" not in text, text
            assert "given" not in text, text


@pytest.mark.anyio
async def test_every_admin_request_goes_through_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1. admin calls with right and wrong tokens, in-process, compare_digest spied on
    Result: one constant-time comparison per call with a bearer token, on bytes."""
    import hmac

    seen: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(sdk_routes.hmac, "compare_digest", spy)
    lifecycle = Lifecycle(
        "unit", settings=ShutdownSettings(admin_token=TOKEN), store=MemoryStateStore()
    )
    app = FastAPI(lifespan=lifecycle.lifespan)
    lifecycle.install(app, metrics=False)
    app.include_router(admin_router)
    async with run_lifecycle(app) as harness:
        for token in [TOKEN, *NEAR_MISSES]:
            await harness.client.get("/admin/status", headers={"Authorization": f"Bearer {token}"})
    assert len(seen) == 1 + len(NEAR_MISSES)
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in seen)
    assert {b for _, b in seen} == {TOKEN.encode()}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    "env",
    [{}, {"SHUTDOWN_ADMIN_TOKEN": ""}],
    ids=["unset", "empty"],
)
def test_admin_routes_refuse_when_no_token_is_configured(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """1. a service started without SHUTDOWN_ADMIN_TOKEN (or with it empty)
    2. every admin route, shutdown included, with no token, an empty one, a guess
    Result: all refused (403 "admin API disabled" or 401); the service keeps serving."""
    base = {k: v for k, v in os.environ.items() if k != "SHUTDOWN_ADMIN_TOKEN"}
    with sdk_service(tmp_path, env=env) as server:
        assert "SHUTDOWN_ADMIN_TOKEN" not in base
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            for method, path in [*ADMIN_ROUTES, SHUTDOWN_ROUTE]:
                for header in (None, "Bearer", "Bearer guess", f"Bearer {TOKEN}", "Basic eDp5"):
                    headers = {"Authorization": header} if header is not None else {}
                    response = client.request(method, path, headers=headers)
                    assert response.status_code in (401, 403), (path, header, response.text)
            response = client.get("/admin/status", headers={"Authorization": "Bearer x"})
            assert response.status_code == 403
            assert "admin API disabled" in response.json()["detail"]
            status = client.get("/health").json()
            assert status["state"] == "ready"
            assert client.get("/health/ready").status_code == 200


FLEET = """\
name = "auth"
state_store = "state"
[services.svc]
url = "http://127.0.0.1:1"
token_file = "{token}"
backend = {{ kind = "command", start = "true", stop = "true" }}
"""


def validate(tmp_path: Path, token_file: str) -> Any:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET.format(token=token_file))
    return CliRunner().invoke(cli, ["validate", "-c", str(fleet)])


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_token_file_private_to_its_owner_is_accepted(tmp_path: Path, mode: int) -> None:
    """1. token file with mode 0600 / 0400  Result: restartctl validate exit 0."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "token").chmod(mode)
    result = validate(tmp_path, "token")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o666, 0o777, 0o610])
def test_token_file_readable_by_others_is_refused_clearly(tmp_path: Path, mode: int) -> None:
    """1. token file readable/writable by group or others
    Result: exit 2 naming the field, the mode and the fix (chmod 600); no token shown."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "token").chmod(mode)
    result = validate(tmp_path, "token")
    assert result.exit_code == 2, result.output
    assert "services.svc.token_file" in result.output
    assert f"{mode:04o}" in result.output
    assert "chmod 600" in result.output
    assert TOKEN not in result.output
    assert "Traceback" not in result.output


def test_symlink_to_a_world_readable_token_file_is_refused(tmp_path: Path) -> None:
    """1. a 0600-looking symlink pointing at a 0644 file  Result: exit 2, refused."""
    target = tmp_path / "shared-token"
    target.write_text(TOKEN)
    target.chmod(0o644)
    (tmp_path / "token").symlink_to(target)
    result = validate(tmp_path, "token")
    assert result.exit_code == 2, result.output
    assert "chmod 600" in result.output


@pytest.mark.parametrize("case", ["missing", "empty", "directory", "blank-lines"])
def test_unusable_token_file_is_exit_2_naming_the_field(tmp_path: Path, case: str) -> None:
    """1. token file missing, empty, a directory, only whitespace
    Result: exit 2 naming services.svc.token_file, never a traceback."""
    path = tmp_path / "token"
    if case == "empty":
        path.write_text("")
    elif case == "blank-lines":
        path.write_text("\n  \n")
    elif case == "directory":
        path.mkdir(mode=0o700)
    if path.exists() and not path.is_dir():
        path.chmod(0o600)
    result = validate(tmp_path, "token")
    assert result.exit_code == 2, result.output
    assert "services.svc.token_file" in result.output
    assert "Traceback" not in result.output


def test_token_env_unset_or_blank_is_exit_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. token_env naming an unset, then a blank variable  Result: exit 2 naming it."""
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        FLEET.format(token="x").replace('token_file = "x"', 'token_env = "AUTH_TOKEN"')
    )
    monkeypatch.delenv("AUTH_TOKEN", raising=False)
    for value in (None, "", "   "):
        if value is not None:
            monkeypatch.setenv("AUTH_TOKEN", value)
        result = CliRunner().invoke(cli, ["validate", "-c", str(fleet)])
        assert result.exit_code == 2, result.output
        assert "services.svc.token_env" in result.output
        assert "AUTH_TOKEN" in result.output
