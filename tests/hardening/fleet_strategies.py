"""Hypothesis strategies for fleet files: valid ones, and valid ones with one mistake.

A broken fleet carries the dotted field its mistake is in, which the error
message of ``restartctl validate`` must name.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

SERVICE_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True)
ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def toml_value(value: Any) -> str:
    """A TOML value: inline tables and arrays, JSON-escaped strings (valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(document: dict[str, Any]) -> str:
    """One ``key = value`` line per top-level key."""
    return "".join(f"{json.dumps(key)} = {toml_value(value)}\n" for key, value in document.items())


def duration(low: float, high: float) -> st.SearchStrategy[Any]:
    """A duration in every form the fleet file accepts: number, '30s', '5m', '250ms'."""
    seconds = st.integers(min_value=int(low), max_value=int(high))
    return st.one_of(
        seconds,
        st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False),
        seconds.map(lambda s: f"{s}s"),
        seconds.map(lambda s: f"{s * 1000}ms"),
        st.integers(min_value=max(int(low // 60), 0), max_value=max(int(high // 60), 0)).map(
            lambda m: f"{m}m"
        ),
    )


def hhmm() -> st.SearchStrategy[str]:
    return st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}")


def backend(name: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.fixed_dictionaries(
            {"kind": st.just("command"), "start": st.just("true"), "stop": st.just("true")},
            optional={"start_timeout_s": st.floats(0.1, 600), "kill_command": st.just("true")},
        ),
        st.fixed_dictionaries(
            {"kind": st.just("http")},
            optional={
                "start_command": st.just(["uvicorn", f"{name}:app"]),
                "exit_margin_s": st.floats(0, 60),
                "pid_file": st.just(f"/run/{name}.pid"),
            },
        ),
        st.fixed_dictionaries(
            {"kind": st.just("supervisor")},
            optional={
                "url": st.sampled_from(
                    ["http://127.0.0.1:9001/RPC2", "unix:///run/supervisor.sock"]
                ),
                "program": st.just(name),
                "kill_wait_s": st.floats(0.1, 60),
            },
        ),
    )


def check() -> st.SearchStrategy[dict[str, Any]]:
    common = {"name": SERVICE_NAME}
    optional = {"timeout_s": st.floats(0.1, 30), "required": st.booleans()}
    return st.one_of(
        st.fixed_dictionaries(
            {**common, "kind": st.just("tcp"), "host": st.just("127.0.0.1"),
             "port": st.integers(1, 65535)},
            optional=optional,
        ),
        st.fixed_dictionaries(
            {**common, "kind": st.just("redis")},
            optional={**optional, "max_memory_percent": st.floats(1, 100)},
        ),
        st.fixed_dictionaries(
            {**common, "kind": st.just("postgres")},
            optional={**optional, "min_free_percent": st.floats(0, 100)},
        ),
        st.fixed_dictionaries(
            {**common, "kind": st.just("http"), "url": st.just("http://127.0.0.1:1/health")},
            optional=optional,
        ),
    )  # fmt: skip


@st.composite
def valid_fleet(draw: st.DrawFn) -> dict[str, Any]:
    """A fleet file that must validate and plan: a DAG of 1-6 services, sane bounds."""
    names = draw(st.lists(SERVICE_NAME, min_size=1, max_size=6, unique=True))
    services: dict[str, Any] = {}
    for index, name in enumerate(names):
        earlier = names[:index]
        depends = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
        service: dict[str, Any] = {
            "url": draw(st.sampled_from(["http://127.0.0.1:8001", "https://svc.internal:443"])),
            "backend": draw(backend(name)),
        }
        if draw(st.booleans()):
            service["token_env"] = "FUZZ_TOKEN"
        else:
            service["token_file"] = "token"
        if depends:
            service["depends_on"] = depends
        optional = {
            "pause_first": st.booleans(),
            "shutdown_grace": duration(0, 120),
            "startup_deadline": duration(1, 300),
            "min_healthy": duration(0, 30),
            "request_timeout": duration(1, 30),
        }
        for key, strategy in optional.items():
            if draw(st.booleans()):
                service[key] = draw(strategy)
        services[name] = service
    window: dict[str, Any] = {
        "start": draw(hhmm()),
        "end": draw(hhmm()),
        "timezone": draw(st.sampled_from(ZONES)),
        "days": draw(st.lists(st.sampled_from(DAYS), min_size=1, unique=True)),
    }
    if draw(st.booleans()):
        window["blackouts"] = [{"start": draw(hhmm()), "end": draw(hhmm()), "reason": "maint"}]
    fleet: dict[str, Any] = {
        "name": draw(SERVICE_NAME),
        "state_store": draw(st.sampled_from(["state", "redis://127.0.0.1:6379/0"])),
        "window": window,
        "gate": {"max_wait": draw(duration(0, 600)), "poll_interval": draw(duration(1, 5))},
        "lock": {"ttl": "1000h"},
        "services": services,
    }
    if draw(st.booleans()):
        fleet["checks"] = draw(st.lists(check(), max_size=3))
    if draw(st.booleans()):
        levels = _levels(services)
        fleet["startup_order"] = [level if len(level) > 1 else level[0] for level in levels]
        fleet["shutdown_order"] = [name for level in reversed(levels) for name in level]
    return fleet


def _levels(services: dict[str, Any]) -> list[list[str]]:
    done: set[str] = set()
    levels = []
    while len(done) < len(services):
        level = [
            n for n, s in services.items()
            if n not in done and set(s.get("depends_on", [])) <= done
        ]  # fmt: skip
        levels.append(level)
        done.update(level)
    return levels


def _first(fleet: dict[str, Any]) -> str:
    return next(iter(fleet["services"]))


# Each mutation: (fleet) -> (broken fleet, dotted field the message must name).
def _set(path: list[str], value: Any, field: str | None = None) -> Any:
    def mutate(fleet: dict[str, Any]) -> tuple[dict[str, Any], str]:
        first = _first(fleet)
        target = fleet
        keys = [first if key == "<svc>" else key for key in path]
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
        return fleet, (field or ".".join(keys)).replace("<svc>", first)

    return mutate


def _drop(path: list[str]) -> Any:
    def mutate(fleet: dict[str, Any]) -> tuple[dict[str, Any], str]:
        keys = [_first(fleet) if key == "<svc>" else key for key in path]
        target = fleet
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
        return fleet, ".".join(keys)

    return mutate


def _cycle(fleet: dict[str, Any]) -> tuple[dict[str, Any], str]:
    names = list(fleet["services"])
    if len(names) == 1:
        fleet["services"][names[0]]["depends_on"] = [names[0]]
        return fleet, f"services.{names[0]}.depends_on"
    fleet.pop("startup_order", None)
    fleet.pop("shutdown_order", None)
    first, last = names[0], names[-1]
    fleet["services"][last]["depends_on"] = [first]
    fleet["services"][first]["depends_on"] = [last]
    return fleet, "depends_on"


def _both_tokens(fleet: dict[str, Any]) -> tuple[dict[str, Any], str]:
    name = _first(fleet)
    fleet["services"][name].update(token_env="FUZZ_TOKEN", token_file="token")
    return fleet, f"services.{name}"


def _order_missing(fleet: dict[str, Any]) -> tuple[dict[str, Any], str]:
    fleet["startup_order"] = [*list(fleet["services"])[1:], "ghost"]
    fleet.pop("shutdown_order", None)
    return fleet, "startup_order"


MUTATIONS = [
    _set(["nmae"], "typo"),
    _set(["name"], "bad name!"),
    _set(["services"], {}),
    _set(["services", "<svc>", "url"], "ftp://127.0.0.1:21", "services.<svc>"),
    _drop(["services", "<svc>", "url"]),
    _drop(["services", "<svc>", "backend"]),
    _set(["services", "<svc>", "depends_on"], ["ghost"], "services.<svc>.depends_on[0]"),
    _set(["services", "<svc>", "shutdown_grace"], "5 parsecs"),
    _set(["services", "<svc>", "startup_deadline"], -3),
    _set(["services", "<svc>", "min_healthy"], True),
    _set(["services", "<svc>", "request_timeout"], "nan"),
    _set(["services", "<svc>", "pause_first"], "maybe"),
    _set(["services", "<svc>", "graceful"], 30),
    _set(["services", "<svc>", "backend"], {"kind": "systemd"}),
    _set(["services", "<svc>", "backend"], {"program": "x"}),
    _set(["services", "<svc>", "backend"], {"kind": "command", "start": "true"}),
    _set(["services", "<svc>", "backend"], {"kind": "http", "retries": 3}),
    _set(["window", "timezone"], "Mars/Olympus"),
    _set(["window", "start"], "25:00"),
    _set(["window", "end"], "4pm"),
    _set(["window", "days"], ["mon", "funday"], "window.days[1]"),
    _set(["window", "days"], []),
    _set(["gate", "max_wait"], "-1s"),
    _set(["lock", "ttl"], "1s"),
    _set(["checks"], [{"kind": "ping", "name": "x"}], "checks[0]"),
    _set(["checks"], [{"kind": "tcp", "name": "x", "host": "h", "port": 70000}],
         "checks[0].port"),
    _set(["checks"], [{"kind": "tcp", "name": "x"}], "checks[0].host"),
    _set(["checks"], [{"kind": "tcp", "name": "x", "host": "h", "port": 1, "timeout_s": math.inf}],
         "checks[0].timeout_s"),
    _set(["checks"], [{"kind": "redis", "name": "x", "timeout_s": math.nan}],
         "checks[0].timeout_s"),
    _set(["checks"], [{"kind": "postgres", "name": "x", "timeout_s": -1.0}],
         "checks[0].timeout_s"),
    _set(["gate", "max_wait"], 10**400),
    _set(["lock", "ttl"], -(2**70)),
    _set(["backup"], {"command": "true", "timeout_s": math.inf}, "backup.timeout_s"),
    _set(["services", "<svc>", "shutdown_grace"], -math.inf),
    _set(["services", "<svc>", "min_healthy"], math.nan),
    _cycle,
    _both_tokens,
    _order_missing,
]  # fmt: skip


@st.composite
def broken_fleet(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid fleet with one mistake, and the field the error must name."""
    fleet = draw(valid_fleet())
    mutation = draw(st.sampled_from(MUTATIONS))
    result: tuple[dict[str, Any], str] = mutation(fleet)
    return result
