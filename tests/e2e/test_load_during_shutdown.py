from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fleet_services.supervised import SupervisedFleet
from tests.e2e.fleet_checks import audit_after_quiesce, wait_for

pytestmark = pytest.mark.e2e

CLIENTS = 16


@dataclass
class LoadResults:
    """What the clients saw: complete answers, clean refusals, and anything else."""

    accepted: list[str] = field(default_factory=list)  # order ids of complete 200 answers
    refused: Counter[str] = field(default_factory=Counter)
    broken: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def place_orders(base_url: str, stop: threading.Event, results: LoadResults) -> None:
    """One client placing orders back to back, as a careful trading client does.

    A 503 or a refused connection means "not taken": back off a little. A connection
    closed before any answer also means the order was not taken; the client sends it
    again with the same ``client_order_id`` (execution is idempotent by it), and an
    answer marked ``duplicate`` would reveal an order executed without its answer.
    """
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client_order_id = uuid.uuid4().hex
        while not stop.is_set():
            body = {
                "symbol": "BTCUSDT",
                "side": "buy",
                "qty": 1,
                "price": 100.0,
                "client_order_id": client_order_id,
            }
            outcome = send(client, body)
            with results.lock:
                if outcome == "accepted":
                    results.accepted.append(f"http-{client_order_id}")
                elif outcome.startswith("broken"):
                    results.broken.append(f"{client_order_id}: {outcome}")
                else:
                    results.refused[outcome] += 1
            if outcome in ("accepted", "503", "connection refused") or outcome.startswith("b"):
                client_order_id = uuid.uuid4().hex
            if outcome != "accepted":
                time.sleep(0.05)


def send(client: httpx.Client, body: dict[str, Any]) -> str:
    """Place one order: accepted, 503, connection refused, closed before answer, or broken."""
    try:
        with client.stream("POST", "/orders", json=body) as response:
            try:
                response.read()
            except httpx.HTTPError as exc:
                return f"broken: cut mid-answer after status {response.status_code}: {exc!r}"
    except httpx.ConnectError:
        return "connection refused"
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
        return "closed before any answer"
    except httpx.HTTPError as exc:
        return f"broken: {exc!r}"
    if response.status_code == 503:
        return "503"
    if response.status_code != 200:
        return f"broken: status {response.status_code}"
    order = response.json()
    if order.get("duplicate"):
        return "broken: executed earlier without an answer"
    if order["status"] != "filled":
        return f"broken: order {order['status']}"
    return "accepted"


def test_orders_placed_while_execution_drains_are_answered_or_refused_cleanly(
    start_fleet: Callable[..., SupervisedFleet], figures: dict[str, Any]
) -> None:
    """1. 16 clients place orders on execution's ``POST /orders`` back to back.
    2. ``restartctl restart execution --no-gate`` restarts execution (and its dependants)
       under that load: supervisord sends SIGTERM, execution drains.
    3. The clients go on until execution is back and answering again.
    Result: every request either got its complete answer (the order filled, exactly
    once) or was refused cleanly (503 or connection refused); no connection was cut
    mid-answer; every order execution recorded was answered to its client.
    """
    fleet = start_fleet()
    stop, results = threading.Event(), LoadResults()
    clients = [
        threading.Thread(target=place_orders, args=(fleet.layout.url("execution"), stop, results))
        for _ in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        wait_for(lambda: len(results.accepted) >= 50, timeout=30, what="orders under load")
        accepted_before = len(results.accepted)
        started = time.monotonic()
        result = fleet.restartctl("restart", "execution", "--no-gate", "--output", "json")
        took = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(
            lambda: len(results.accepted) >= accepted_before + 50 and results.refused,
            timeout=30,
            what="orders accepted again after the restart",
        )
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=60)

    assert results.broken == []
    assert results.refused, "no request arrived while execution was draining or down"
    audit = audit_after_quiesce(fleet)
    http_orders = {oid for oid, o in audit.orders.items() if o["source"] == "http"}
    assert http_orders == set(results.accepted), "an order was executed but not answered"
    assert len(results.accepted) == len(set(results.accepted))

    figures.update(
        clients=CLIENTS,
        restart_s=round(took, 1),
        accepted=len(results.accepted),
        accepted_before_restart=accepted_before,
        refused=dict(results.refused),
        broken=len(results.broken),
        signals_executed=audit.executed,
    )
