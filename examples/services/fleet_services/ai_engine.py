"""ai-engine (port 8001): publishes trading signals to the ``{prefix}:signals`` stream.

Pausing it is phase 1's "stop accepting new signals": the pause hook returns only
once the signal being published is out, so nothing new appears after the pause.
Its model state (sequence, counters, the toy model's weights) is saved at every
stop and restored before it reports ready, so signal ids never repeat.

    uvicorn fleet_services.ai_engine:app --port 8001
"""

from __future__ import annotations

import random
import time
from typing import Any

from fastapi import FastAPI

from fleet_services import __version__
from fleet_services._common import FleetSettings, Intake, connect_redis, fleet_lifespan
from shutdown_sdk import Lifecycle, admin_router

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")

settings = FleetSettings()
lifecycle = Lifecycle("ai-engine", version=__version__)
redis = connect_redis(settings, lifecycle)
intake = Intake(lifecycle)
signals_stream = settings.key("signals")


class Model:
    """A toy signal model: a random walk of prices and a momentum weight per symbol."""

    def __init__(self) -> None:
        self.seq = 0
        self.generated = 0
        self.last_signal_id: str | None = None
        self.prices = {"BTCUSDT": 97_000.0, "ETHUSDT": 3_600.0, "SOLUSDT": 230.0}
        self.weights = dict.fromkeys(SYMBOLS, 0.0)
        self._rng = random.Random()

    def next_signal(self) -> dict[str, str]:
        symbol = self._rng.choice(SYMBOLS)
        move = self._rng.gauss(0, 0.001)
        self.prices[symbol] *= 1 + move
        self.weights[symbol] = 0.9 * self.weights[symbol] + 0.1 * move
        self.seq += 1
        signal_id = f"sig-{self.seq:08d}"
        return {
            "signal_id": signal_id,
            "symbol": symbol,
            "side": "buy" if self.weights[symbol] >= 0 else "sell",
            "qty": str(self._rng.randint(1, 5)),
            "price": f"{self.prices[symbol]:.2f}",
            "ts": f"{time.time():.6f}",
        }

    def state(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "generated": self.generated,
            "last_signal_id": self.last_signal_id,
            "prices": self.prices,
            "weights": self.weights,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        self.seq = int(saved["seq"])
        self.generated = int(saved["generated"])
        self.last_signal_id = saved.get("last_signal_id")
        self.prices.update(saved.get("prices", {}))
        self.weights.update(saved.get("weights", {}))


model = Model()


async def publish_signal() -> None:
    signal = model.next_signal()
    await redis.xadd(signals_stream, signal)  # type: ignore[arg-type]
    model.generated += 1
    model.last_signal_id = signal["signal_id"]


async def generate_signals() -> None:
    await intake.run(publish_signal, interval=1 / settings.signal_rate, name="signal")


@lifecycle.on_pause
async def stop_signals() -> None:
    await intake.quiesce()


@lifecycle.on_save_state("model")
def save_model() -> dict[str, Any]:
    return model.state()


@lifecycle.on_restore_state("model")
def restore_model(saved: dict[str, Any]) -> None:
    model.restore(saved)


app = FastAPI(
    title="ai-engine",
    version=__version__,
    lifespan=lambda app: fleet_lifespan(lifecycle, settings, app, generate_signals),
)
lifecycle.install(app)
app.include_router(admin_router)


@app.get("/signals/stats")
async def signal_stats() -> dict[str, Any]:
    """What the model has produced, and the stream it goes to."""
    return {**model.state(), "stream": signals_stream, "paused": lifecycle.paused}
