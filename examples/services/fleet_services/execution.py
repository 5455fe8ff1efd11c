"""execution (port 8002): turns signals (and ``POST /orders``) into orders on a simulated exchange.

Signals are read from ``{prefix}:signals`` with the consumer group ``execution`` and
acknowledged only once their order is recorded, so a signal read before a stop and
not yet done is delivered again after it. Orders are idempotent by signal id (or the
client's order id): ``{prefix}:orders`` holds one entry per id, and the exchange fill
(``{prefix}:exchange:fills``), the order record and the acknowledgement are written in
one transaction. Every order is tracked work (``lifecycle.track``): the drain waits
for it, and the restart gate stays closed while orders are active, fills pending or
the signal queue lags.

    uvicorn fleet_services.execution:app --port 8002
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import Counter
from typing import Any, Literal

import httpx
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from redis.exceptions import ResponseError

from fleet_services import __version__
from fleet_services._common import FleetSettings, connect_redis, fleet_lifespan
from shutdown_sdk import Lifecycle, admin_router, queue_lag_blocker

logger = logging.getLogger("fleet_services.execution")

GROUP = "execution"
CONSUMER = "execution-1"  # fixed: after a restart it reads its own unacknowledged signals first

settings = FleetSettings()
lifecycle = Lifecycle("execution", version=__version__)
redis = connect_redis(settings, lifecycle)
signals_stream = settings.key("signals")
orders_key = settings.key("orders")
fills_key = settings.key("exchange", "fills")
lifecycle.restart_blocker(queue_lag_blocker(redis, signals_stream, GROUP, threshold=100))


class OrderRequest(BaseModel):
    """An order placed over HTTP."""

    model_config = {"extra": "forbid"}

    symbol: str = Field(pattern=r"^[A-Z]{2,12}$")
    side: Literal["buy", "sell"]
    qty: int = Field(gt=0, le=1_000)
    price: float = Field(default=100.0, gt=0)
    client_order_id: str | None = Field(default=None, min_length=1, max_length=64)
    hold: bool = Field(
        default=False,
        description="Keep the fill pending until POST /exchange/release/{order_id} "
        "(simulates an exchange that has not confirmed yet).",
    )


class Book:
    """Positions (the saved state) and the orders in progress (the restart blockers)."""

    def __init__(self) -> None:
        self.positions: dict[str, dict[str, int]] = {}
        self.stage: dict[str, str] = {}  # order id -> "submitting" | "awaiting fill"
        self.held: dict[str, asyncio.Event] = {}
        self.counts: Counter[str] = Counter()

    def apply(self, order: dict[str, Any]) -> None:
        position = self.positions.setdefault(order["symbol"], {"qty": 0, "notional_cents": 0})
        signed = order["qty"] if order["side"] == "buy" else -order["qty"]
        position["qty"] += signed
        position["notional_cents"] += signed * round(order["price"] * 100)

    def in_stage(self, stage: str) -> int:
        return sum(1 for s in self.stage.values() if s == stage)


book = Book()
rng = random.Random()


class RiskUnavailable(Exception):
    """risk-safety did not answer: no order goes out without its say (fail closed)."""


class RiskGate:
    """risk-safety's ESS and limits, cached for a second."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._value: dict[str, Any] | None = None
        self._at = 0.0
        self._client: httpx.AsyncClient | None = None

    async def ess(self) -> dict[str, Any]:
        if self._value is not None and time.monotonic() - self._at < self.ttl:
            return self._value
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=settings.risk_safety_url, timeout=2.0)
        try:
            response = await self._client.get("/ess")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RiskUnavailable(f"risk-safety at {settings.risk_safety_url}: {exc!r}") from exc
        self._value, self._at = response.json(), time.monotonic()
        return self._value

    async def rejection(self, order: dict[str, Any]) -> str | None:
        ess = await self.ess()
        if ess["active"]:
            return f"emergency stop active: {ess['reason']}"
        if order["qty"] > ess["limits"]["max_order_qty"]:
            return f"qty {order['qty']} over the limit {ess['limits']['max_order_qty']}"
        position = book.positions.get(order["symbol"], {"qty": 0})["qty"]
        if abs(position) + order["qty"] > ess["limits"]["max_position"]:
            return f"position limit {ess['limits']['max_position']} on {order['symbol']}"
        return None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


risk = RiskGate()
lifecycle.add_closer(risk.aclose, name="risk-client")


async def execute(order: dict[str, Any], *, ack: str | None = None) -> dict[str, Any]:
    """Execute ``order`` exactly once (keyed by its id); returns the recorded order."""
    order_id = order["order_id"]
    async with lifecycle.track("order", id=order_id):
        existing = await redis.hget(orders_key, order_id)
        if existing is not None:
            book.counts["duplicates"] += 1
            if ack is not None:
                await redis.xack(signals_stream, GROUP, ack)
            return {**json.loads(existing), "duplicate": True}
        book.stage[order_id] = "submitting"
        try:
            reason = await risk.rejection(order)
            if reason is None:
                book.stage[order_id] = "awaiting fill"
                await _exchange_fill(order_id, hold=order.pop("hold", False))
                order.update(status="filled", filled_at=time.time())
            else:
                order.update(status="rejected", reason=reason, filled_at=None)
            order.pop("hold", None)
            async with redis.pipeline(transaction=True) as tx:
                if order["status"] == "filled":
                    tx.rpush(fills_key, order_id)
                tx.hset(orders_key, order_id, json.dumps(order))
                if ack is not None:
                    tx.xack(signals_stream, GROUP, ack)
                await tx.execute()
        finally:
            book.stage.pop(order_id, None)
            book.held.pop(order_id, None)
        if order["status"] == "filled":
            book.apply(order)
        book.counts[order["status"]] += 1
        return order


async def _exchange_fill(order_id: str, *, hold: bool) -> None:
    if hold:
        release = book.held.setdefault(order_id, asyncio.Event())
        await release.wait()
        return
    low, high = settings.exchange_latency_min_ms, settings.exchange_latency_max_ms
    await asyncio.sleep(rng.uniform(low, max(low, high)) / 1000)


async def consume_signals() -> None:
    """Read signals (own unacknowledged ones first), execute them, until the service stops."""
    await _ensure_group()
    backlog = True  # "0": entries delivered to this consumer before and never acknowledged
    while not lifecycle.stopping.is_set():
        await lifecycle.wait_until_resumed()
        if lifecycle.stopping.is_set():
            break
        try:
            batch: Any = await redis.xreadgroup(
                GROUP, CONSUMER, {signals_stream: "0" if backlog else ">"}, count=20, block=500
            )
        except Exception:
            logger.exception("execution: reading signals failed")
            await asyncio.sleep(1)
            continue
        entries = batch[0][1] if batch else []
        if backlog and not entries:
            backlog = False
            continue
        results = await asyncio.gather(
            *(_execute_signal(entry_id, fields) for entry_id, fields in entries),
            return_exceptions=True,
        )
        if any(isinstance(r, BaseException) for r in results):
            backlog = True  # left unacknowledged: try those again
            await asyncio.sleep(0.5)


async def _execute_signal(entry_id: str, fields: dict[str, str]) -> None:
    order = {
        "order_id": fields["signal_id"],
        "source": "signal",
        "symbol": fields["symbol"],
        "side": fields["side"],
        "qty": int(fields["qty"]),
        "price": float(fields["price"]),
        "signal_ts": float(fields["ts"]),
    }
    try:
        await execute(order, ack=entry_id)
    except RiskUnavailable as exc:
        logger.warning("execution: %s not executed yet: %s", fields["signal_id"], exc)
        raise


async def _ensure_group() -> None:
    try:
        await redis.xgroup_create(signals_stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def queue_lag() -> int:
    groups: list[dict[str, Any]] = await redis.xinfo_groups(signals_stream)
    for info in groups:
        if info["name"] == GROUP:
            return int(info.get("lag") or 0) + int(info.get("pending") or 0)
    return 0


@lifecycle.restart_blocker
def active_orders() -> str | None:
    count = book.in_stage("submitting")
    return f"{count} active orders" if count else None


@lifecycle.restart_blocker
def pending_fills() -> str | None:
    count = book.in_stage("awaiting fill")
    return f"{count} pending fills" if count else None


@lifecycle.on_flush
async def drain_signal_queue() -> dict[str, Any]:
    """Wait (bounded by the hook timeout) until every queued signal is executed."""
    before = book.counts["filled"] + book.counts["rejected"]
    lag = await queue_lag()
    while lag and not lifecycle.paused:
        await asyncio.sleep(0.05)
        lag = await queue_lag()
    return {"executed": book.counts["filled"] + book.counts["rejected"] - before, "lag": lag}


@lifecycle.on_save_state("positions")
def save_positions() -> dict[str, Any]:
    return book.positions


@lifecycle.on_restore_state("positions")
def restore_positions(saved: dict[str, Any]) -> None:
    book.positions = {symbol: dict(position) for symbol, position in saved.items()}


app = FastAPI(
    title="execution",
    version=__version__,
    lifespan=lambda app: fleet_lifespan(lifecycle, settings, app, consume_signals),
)
lifecycle.install(app)
app.include_router(admin_router)


@app.post("/orders")
async def place_order(request: OrderRequest) -> dict[str, Any]:
    """Place an order; answers once it is filled (or rejected by risk-safety)."""
    order = request.model_dump()
    order["order_id"] = f"http-{order.pop('client_order_id') or uuid.uuid4().hex}"
    order["source"] = "http"
    try:
        return await execute(order)
    except RiskUnavailable as exc:
        raise HTTPException(503, f"risk check unavailable: {exc}") from exc


@app.post("/exchange/release/{order_id}")
async def release_fill(order_id: str) -> dict[str, Any]:
    """Confirm the fill of an order placed with ``hold``."""
    release = book.held.get(order_id)
    if release is None:
        raise HTTPException(404, f"no held order {order_id}")
    release.set()
    return {"released": order_id}


@app.get("/positions")
async def positions() -> dict[str, Any]:
    """Net quantity and notional (cents) per symbol."""
    return {"positions": book.positions}


@app.get("/orders/stats")
async def order_stats() -> dict[str, Any]:
    """Counts since start, orders in progress, and the signal queue's lag."""
    return {
        "counts": dict(book.counts),
        "active_orders": book.in_stage("submitting"),
        "pending_fills": book.in_stage("awaiting fill"),
        "held": sorted(book.held),
        "queue_lag": await queue_lag(),
    }
