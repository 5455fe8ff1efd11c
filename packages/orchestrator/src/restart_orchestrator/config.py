"""The fleet file: one TOML document describing the fleet, validated with pydantic.

Relative paths in the file (state store directory, lock file, journal, token
files) are resolved against the directory of the fleet file, so the same file
works from cron, a systemd unit or a shell.

Example::

    fleet = load_fleet("fleet.toml")
    fleet.startup_levels   # [["risk-safety"], ["execution"], ...]
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from restart_orchestrator.backends.base import BackendConfig
from restart_orchestrator.checks.backup import BackupConfig
from restart_orchestrator.checks.base import CheckConfig
from restart_orchestrator.durations import Duration, format_duration
from restart_orchestrator.errors import ConfigError, ConfigIssue

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _time_of_day(value: object) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            parsed = dt.time.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                return parsed
    raise ValueError(f"invalid time of day {value!r}: use 'HH:MM' (24 h, in the window's timezone)")


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name like 'UTC' or 'Europe/London'"
        ) from None
    return value


def _service_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"invalid service name {value!r}: letters, digits, '-', '_', '.'")
    return value


TimeOfDay = Annotated[dt.time, BeforeValidator(_time_of_day)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
ServiceName = Annotated[str, AfterValidator(_service_name)]
OrderEntry = ServiceName | list[ServiceName]


class StrictModel(BaseModel):
    """Every table of the fleet file refuses unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Blackout(StrictModel):
    """A period in which no restart may run (e.g. the exchange's 02:00-04:00 maintenance)."""

    start: TimeOfDay
    end: TimeOfDay
    reason: str = ""
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))


class WindowConfig(StrictModel):
    """When ``run`` may start; ``end`` before ``start`` wraps midnight."""

    start: TimeOfDay = dt.time(4, 0)
    end: TimeOfDay = dt.time(4, 30)
    timezone: TimeZoneName = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    blackouts: list[Blackout] = Field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class LockConfig(StrictModel):
    """The fleet lock: a ``redis://`` URL (redis-py's Lock) or a file path (flock)."""

    location: str = ""  # empty: ``.restartctl/<fleet>.lock`` beside the fleet file
    ttl: Duration = 7200.0
    key: str = ""  # Redis key; empty: ``restartctl:<fleet>:lock``


class GateConfig(StrictModel):
    """The restart gate: how long to wait for ``/admin/can-restart`` to say ok everywhere."""

    max_wait: Duration = 300.0
    poll_interval: Duration = 1.0
    max_poll_interval: Duration = 15.0


class AlertsConfig(StrictModel):
    """When to raise an alert event besides failures."""

    max_run_duration: Duration = 600.0


class NotificationsConfig(StrictModel):
    """Where run events go: a Redis stream and/or a webhook (both optional)."""

    redis_url: str | None = None
    stream: str = "restart:events"
    stream_maxlen: int = Field(default=10_000, gt=0)
    webhook_url: str | None = None
    webhook_timeout: Duration = 5.0


class MetricsConfig(StrictModel):
    """Prometheus output: a textfile (node_exporter's collector) and/or a push gateway."""

    textfile: Path | None = None
    pushgateway_url: str | None = None
    job: str = "restartctl"


class ServiceConfig(StrictModel):
    """One service of the fleet; its name is its key under ``[services]``."""

    url: str
    token_env: str | None = None
    token_file: Path | None = None
    depends_on: list[ServiceName] = Field(default_factory=list)
    pause_first: bool = False
    shutdown_grace: Duration = 30.0
    startup_deadline: Duration = 60.0
    min_healthy: Duration = 5.0
    request_timeout: Duration = 5.0
    backend: BackendConfig

    @model_validator(mode="after")
    def _one_token_source(self) -> ServiceConfig:
        if (self.token_env is None) == (self.token_file is None):
            raise ValueError("set exactly one of token_env or token_file (the admin token)")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} must start with http:// or https://")
        return self


class FleetConfig(StrictModel):
    """The whole fleet file."""

    name: ServiceName
    state_store: str
    state_key_prefix: str = "shutdown-sdk"
    journal: Path | None = None
    shutdown_order: list[OrderEntry] | None = None
    startup_order: list[OrderEntry] | None = None
    lock: LockConfig = LockConfig()
    window: WindowConfig = WindowConfig()
    gate: GateConfig = GateConfig()
    alerts: AlertsConfig = AlertsConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    metrics: MetricsConfig = MetricsConfig()
    services: dict[ServiceName, ServiceConfig] = Field(min_length=1)
    checks: list[CheckConfig] = Field(default_factory=list)
    backup: BackupConfig | None = None


@dataclass(frozen=True)
class Fleet:
    """A validated fleet: its config, where it came from, and its derived orders."""

    config: FleetConfig
    path: Path
    startup_levels: list[list[str]]
    shutdown_levels: list[list[str]]
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def services(self) -> dict[str, ServiceConfig]:
        return self.config.services

    @property
    def startup_order(self) -> list[str]:
        return [name for level in self.startup_levels for name in level]

    @property
    def shutdown_order(self) -> list[str]:
        return [name for level in self.shutdown_levels for name in level]

    def resolve(self, value: Path | str) -> Path:
        """A path from the file, relative to the fleet file's directory."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.path.parent / path

    @property
    def journal_path(self) -> Path:
        default = Path(".restartctl") / f"{self.name}.journal.json"
        return self.resolve(self.config.journal or default)

    @property
    def state_store(self) -> str:
        store = self.config.state_store
        return store if store.startswith(("redis://", "rediss://")) else str(self.resolve(store))

    @property
    def lock_location(self) -> str:
        location = self.config.lock.location or f".restartctl/{self.name}.lock"
        if location.startswith(("redis://", "rediss://", "unix://")):
            return location
        return str(self.resolve(location))

    def dependants(self, name: str) -> set[str]:
        """Every service that depends on ``name``, directly or not."""
        found: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for other, service in self.services.items():
                if current in service.depends_on and other not in found:
                    found.add(other)
                    frontier.append(other)
        return found


def resolve_token(fleet: Fleet, name: str) -> str:
    """The admin token of service ``name`` from its env var or file; ``ConfigError`` if unusable.

    Token files must not be readable by group or others (mode 0600 or stricter).
    """
    service = fleet.services[name]
    if service.token_env is not None:
        token = os.environ.get(service.token_env, "").strip()
        if not token:
            raise ConfigError(
                fleet.path,
                [
                    ConfigIssue(
                        f"services.{name}.token_env",
                        f"environment variable {service.token_env} (the admin token) is not set",
                    )
                ],
            )
        return token
    assert service.token_file is not None
    path = fleet.resolve(service.token_file)
    where = f"services.{name}.token_file"
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                fleet.path,
                [
                    ConfigIssue(
                        where,
                        f"token file {path} is readable by group or others (mode "
                        f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}",
                    )
                ],
            )
        token = path.read_text().strip()
    except OSError as exc:
        reason = f"cannot read token file {path}: {exc.strerror or exc}"
        raise ConfigError(fleet.path, [ConfigIssue(where, reason)]) from exc
    if not token:
        raise ConfigError(fleet.path, [ConfigIssue(where, f"token file {path} is empty")])
    return token


# --- building the models from the backend and check registries ---------------------------


def _backend_registry() -> dict[str, Any]:
    from restart_orchestrator import backends

    return dict(backends.BACKENDS)


def _check_registry() -> dict[str, Any]:
    from restart_orchestrator import checks

    return dict(checks.CHECKS)


def _literal_field(kind: str) -> Any:
    return (Literal[kind], ...)  # a discriminator must be a Literal


def _tagged(models: dict[str, type[BaseModel]]) -> Any:
    """A discriminated union on ``kind`` over one config model per registered kind."""
    variants: list[Any] = [
        create_model(f"{model.__name__}_{kind}", __base__=model, kind=_literal_field(kind))
        for kind, model in sorted(models.items())
    ]
    if len(variants) == 1:
        return variants[0]
    union: Any = variants[0]
    for variant in variants[1:]:
        union = union | variant
    return Annotated[union, Field(discriminator="kind")]


@cache
def _fleet_model(
    backend_kinds: tuple[tuple[str, type[BaseModel]], ...],
    check_kinds: tuple[tuple[str, type[BaseModel]], ...],
) -> type[FleetConfig]:
    service: Any = create_model(
        "ServiceConfig", __base__=ServiceConfig, backend=(_tagged(dict(backend_kinds)), ...)
    )
    fields: dict[str, Any] = {"services": (dict[ServiceName, service], Field(min_length=1))}
    if check_kinds:
        check: Any = _tagged(dict(check_kinds))
        fields["checks"] = (list[check], Field(default_factory=list))
    model: type[FleetConfig] = create_model("FleetConfig", __base__=FleetConfig, **fields)
    return model


def fleet_model() -> type[FleetConfig]:
    """The fleet model for the backends and checks registered right now."""
    backends = tuple(sorted((k, b.config_model) for k, b in _backend_registry().items()))
    checks = tuple(sorted((k, c.config_model) for k, c in _check_registry().items()))
    return _fleet_model(backends, checks)


# --- loading ------------------------------------------------------------------------------


def load_fleet(path: Path | str) -> Fleet:
    """Read, validate and derive the orders of a fleet file; ``ConfigError`` lists every issue."""
    from restart_orchestrator.orders import derive_levels

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror or exc}"
        raise ConfigError(path, [ConfigIssue("", reason)]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [ConfigIssue("", f"not UTF-8 text: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [ConfigIssue("", f"TOML syntax error: {exc}")]) from None
    except ValueError as exc:  # int() refuses more than 4300 digits; tomllib lets it through
        raise ConfigError(path, [ConfigIssue("", _unparsable_number(text, exc))]) from None
    issues = _number_issues(raw)
    if issues:  # checked first: such a number can crash code downstream of validation
        raise ConfigError(path, issues)
    try:
        config = fleet_model().model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, _issues_from(exc)) from None
    startup, shutdown, issues = derive_levels(config)
    if not issues:
        issues += _lock_issues(config, startup, shutdown)
    if issues:
        raise ConfigError(path, issues)
    return Fleet(config=config, path=path, startup_levels=startup, shutdown_levels=shutdown)


#: TOML integers are 64-bit; Python's parser accepts any length.
_INT_LIMIT = 2**63


def _unparsable_number(text: str, exc: ValueError) -> str:
    """Where the number Python cannot parse is (the parser does not say)."""
    digits = re.search(r"\d{4000,}", text)
    if digits is None:
        return f"cannot parse: {exc}"
    line = text.count("\n", 0, digits.start()) + 1
    length = len(digits.group())
    return f"line {line}: a number of {length} digits is out of range (at most 64 bits)"


def _number_issues(value: Any, loc: tuple[int | str, ...] = ()) -> list[ConfigIssue]:
    """Numbers TOML parses that no field can use: ``inf``, ``nan``, integers beyond 64 bits."""
    if isinstance(value, dict):
        return [issue for key, item in value.items() for issue in _number_issues(item, (*loc, key))]
    if isinstance(value, list):
        return [issue for i, item in enumerate(value) for issue in _number_issues(item, (*loc, i))]
    if isinstance(value, float) and not math.isfinite(value):
        return [ConfigIssue(dotted(loc), f"{value} is not a finite number")]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT_LIMIT:
        reason = f"integer of {value.bit_length()} bits is out of range (at most 64 bits)"
        return [ConfigIssue(dotted(loc), reason)]
    return []


def _lock_issues(
    config: FleetConfig, startup: list[list[str]], shutdown: list[list[str]]
) -> list[ConfigIssue]:
    from restart_orchestrator.plan import worst_case_duration

    worst = worst_case_duration(config, startup, shutdown)
    if config.lock.ttl <= worst:
        return [
            ConfigIssue(
                "lock.ttl",
                f"{format_duration(config.lock.ttl)} is not longer than "
                f"the worst-case run ({format_duration(worst)}); raise it so the "
                "lock cannot expire mid-run",
            )
        ]
    return []


# --- error messages -----------------------------------------------------------------------


def dotted(loc: tuple[int | str, ...]) -> str:
    """``('services', 'a', 'depends_on', 1)`` -> ``'services.a.depends_on[1]'``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _strip_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop the union tag pydantic inserts after ``backend`` / ``checks[i]``."""
    kinds = set(_backend_registry()) | set(_check_registry())
    out: list[int | str] = []
    for index, part in enumerate(loc):
        previous = loc[index - 1] if index else None
        after_union = previous == "backend" or (
            isinstance(previous, int) and index >= 2 and loc[index - 2] == "checks"
        )
        if after_union and part in kinds:
            continue
        out.append(part)
    return tuple(out)


@cache
def _vocabulary() -> frozenset[str]:
    names: set[str] = set()
    models: list[type[BaseModel]] = [FleetConfig]
    models += [b.config_model for b in _backend_registry().values()]
    models += [c.config_model for c in _check_registry().values()]
    seen: set[type[BaseModel]] = set()
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            for arg in _model_args(info.annotation):
                models.append(arg)
    return frozenset(names | {"kind"})


def _model_args(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found += _model_args(arg)
    return found


def _issues_from(exc: ValidationError) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for error in exc.errors():
        loc = _strip_tags(tuple(error["loc"]))
        kind = error["type"]
        ctx = error.get("ctx") or {}
        if kind == "extra_forbidden":
            reason = "unknown field"
            close = difflib.get_close_matches(str(loc[-1]), sorted(_vocabulary()), n=1)
            if close:
                reason += f" (did you mean {close[0]!r}?)"
        elif kind == "missing":
            reason = "required field is missing"
        elif kind == "union_tag_invalid":
            reason = f"unknown kind {ctx.get('tag')!r}; known kinds: {ctx.get('expected_tags')}"
        elif kind == "union_tag_not_found":
            reason = "missing 'kind' (which kind of " + ("check" if "checks" in loc else "backend")
            reason += " this is)"
        elif kind == "literal_error" and loc and loc[-1] == "kind":
            reason = f"unknown kind {error.get('input')!r}; expected {ctx.get('expected')}"
        else:
            reason = str(error["msg"]).removeprefix("Value error, ")
            if kind not in ("value_error", "assertion_error") and "input" in error:
                shown = error["input"]
                if not isinstance(shown, dict | list):
                    reason += f" (got {shown!r})"
        issues.append(ConfigIssue(dotted(loc), reason))
    return issues
