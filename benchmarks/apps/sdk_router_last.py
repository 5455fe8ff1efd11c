"""(b') The SDK with its admin router included after the service's own routes."""

from __future__ import annotations

from benchmarks.apps.sdk import build

app = build(router_first=False)
