"""Property-based fleet files through ``restartctl validate`` and ``plan`` (CliRunner).

Valid fleets (random DAGs, every duration form, zones, blackouts, checks, explicit
orders) must validate and plan with dependencies respected; each broken one (a
valid fleet with one mistake) must give exit 2 naming the field, never a traceback.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restart_orchestrator.cli import cli
from tests.hardening.fleet_strategies import broken_fleet, to_toml, valid_fleet

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
seen: Counter[str] = Counter()
fields_named: set[str] = set()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FUZZ_TOKEN", "fuzz-token")
    token = tmp_path / "token"
    token.write_text("fuzz-token\n")
    token.chmod(0o600)
    return tmp_path


def invoke(workdir: Path, text: str, *args: str) -> Result:
    path = workdir / "fleet.toml"
    path.write_text(text)
    return CliRunner().invoke(cli, [*args, "-c", str(path)])


def assert_no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    assert "Traceback" not in result.output


@FUZZ
@given(fleet=valid_fleet())
def test_every_valid_fleet_validates_and_plans_in_dependency_order(
    workdir: Path, fleet: dict[str, object]
) -> None:
    """1. a generated valid fleet file  2. restartctl validate, plan, plan --json
    Result: exit 0 each; every service starts after what it depends on."""
    text = to_toml(fleet)
    for args in (["validate"], ["plan"]):
        result = invoke(workdir, text, *args)
        assert_no_traceback(result)
        assert result.exit_code == 0, f"{args}: {result.output}\n--- fleet ---\n{text}"
    plan = json.loads(invoke(workdir, text, "plan", "--json").output)
    position = {name: index for index, name in enumerate(plan["startup_order"])}
    for name, service in plan["services"].items():
        for dependency in service["depends_on"]:
            assert position[dependency] < position[name]
    seen["valid"] += 1


@FUZZ
@given(case=broken_fleet())
def test_every_broken_fleet_is_exit_2_naming_the_field(
    workdir: Path, case: tuple[dict[str, object], str]
) -> None:
    """1. a generated valid fleet with one mistake  2. restartctl validate, plan
    Result: exit 2, one line per issue naming file and field, no traceback."""
    fleet, field = case
    text = to_toml(fleet)
    for command in ("validate", "plan"):
        result = invoke(workdir, text, command)
        assert_no_traceback(result)
        assert result.exit_code == 2, f"{command}: {result.output}\n--- fleet ---\n{text}"
        assert str(workdir / "fleet.toml") in result.output
        assert field in result.output, f"{field!r} not named in:\n{result.output}"
    seen["broken"] += 1
    fields_named.add(field)


@FUZZ
@given(data=st.data())
def test_corrupted_toml_is_exit_2_never_a_traceback(workdir: Path, data: st.DataObject) -> None:
    """1. a valid fleet file with bytes cut, doubled or replaced at random
    Result: exit 0 or 2 (a cut may leave a valid file), never a traceback."""
    text = to_toml(data.draw(valid_fleet()))
    at = data.draw(st.integers(0, len(text) - 1))
    how = data.draw(st.sampled_from(["cut", "double", "replace", "truncate"]))
    junk = data.draw(st.text(min_size=1, max_size=3))
    corrupted = {
        "cut": text[:at] + text[at + 1 :],
        "double": text[:at] + text[at] + text[at:],
        "replace": text[:at] + junk + text[at + 1 :],
        "truncate": text[:at],
    }[how]
    result = invoke(workdir, corrupted, "validate")
    assert_no_traceback(result)
    assert result.exit_code in (0, 2), result.output
    seen[f"corrupted exit {result.exit_code}"] += 1


def test_zz_report_counts() -> None:
    """The number of generated fleets of each kind (printed for docs/reliability.md)."""
    print(f"\nconfig fuzz: {dict(seen)}; {len(fields_named)} distinct fields named")
