"""HTTP reachability: a request answers with an expected status within a latency bound.

[[checks]]
kind = "http"
name = "exchange-api"
url = "https://api.exchange.example/v1/ping"
expected_status = [200]      # default: any 2xx
max_latency_ms = 800
"""

from __future__ import annotations

import time
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from restart_orchestrator.checks.base import Check, CheckConfig, CheckResult
from restart_orchestrator.checks.timing import bounded, elapsed_ms, latency_problem
from restart_orchestrator.tls import shared_tls_context


class HttpCheckConfig(CheckConfig):
    kind: Literal["http"] = "http"
    url: str
    method: Literal["GET", "HEAD", "POST", "OPTIONS"] = "GET"
    expected_status: tuple[int, ...] | None = Field(
        default=None, description="Accepted status codes; default: any 2xx."
    )
    max_latency_ms: float | None = Field(default=None, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value


class HttpCheck(Check):
    """Sends one request (redirects not followed: a 3xx is reported as such)."""

    kind = "http"
    config_model = HttpCheckConfig
    config: HttpCheckConfig

    async def run(self) -> CheckResult:
        return await bounded(self.kind, self.config, self._request)

    async def _request(self, details: dict[str, Any]) -> str | None:
        details.update(url=self.config.url, method=self.config.method)
        timeout = httpx.Timeout(self.config.timeout_s)
        verify = shared_tls_context() if self.config.verify_tls else False
        async with httpx.AsyncClient(timeout=timeout, verify=verify) as client:
            started = time.monotonic()
            try:
                response = await client.request(
                    self.config.method, self.config.url, headers=self.config.headers
                )
            except httpx.HTTPError as exc:
                return f"{self.config.method} {self.config.url} failed: {_describe(exc)}"
            details["latency_ms"] = elapsed_ms(started)
            details["status"] = response.status_code
        expected = self.config.expected_status
        if expected is None and not response.is_success:
            return f"status {response.status_code}, expected 2xx"
        if expected is not None and response.status_code not in expected:
            return f"status {response.status_code}, expected {', '.join(map(str, expected))}"
        return latency_problem(details["latency_ms"], self.config.max_latency_ms)


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
