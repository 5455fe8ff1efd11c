"""Sessions for the workspace: ``nox -s tests`` is what CI and newcomers run."""

from __future__ import annotations

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

SOURCES = ["packages", "examples", "tests", "benchmarks", "noxfile.py"]


def uv_binary() -> str:
    """uv from the ``uv`` package installed next to nox, so that it need not be on PATH."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return "uv"
    return find_uv_bin()


def sync(session: nox.Session, *groups: str) -> None:
    """Install the locked workspace (both packages, every extra) plus dependency groups."""
    session.run_install(
        uv_binary(),
        "sync",
        "--locked",
        "--all-packages",
        "--all-extras",
        *(f"--group={group}" for group in groups),
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite: SDK, orchestrator and end-to-end (real uvicorn, Redis, supervisord)."""
    sync(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    sync(session, "lint")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over both packages' sources, the example fleet and the benchmarks."""
    sync(session, "typecheck", "bench")
    session.run(
        "mypy",
        "packages/shutdown_sdk/src",
        "packages/orchestrator/src",
        "examples/services/fleet_services",
        "benchmarks",
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Start the example fleet under supervisord, trade, restart it with restartctl, report."""
    sync(session)
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: middleware overhead, drain latency, fleet restart time, plan scale."""
    sync(session, "test", "bench")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """Restart the example fleet many times in a row under continuous trading."""
    sync(session, "test")
    session.run("pytest", "-m", "soak", "tests/e2e/test_soak.py", *session.posargs)
