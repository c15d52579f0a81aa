"""The root CLI: every planned command is registered, --version, and the one error boundary.

The boundary is ``lgr.cli.main()``, so these tests run the CLI in a real subprocess. To raise an
error "inside a command" without depending on any real command, a small driver script adds a
test command to ``lgr.cli.app`` and then calls ``main()``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from lgr import __version__
from lgr.core.errors import ExitCode

PLANNED = (
    "agent", "router", "rlp", "gateway", "tc", "emit", "tail",
    "certs", "up", "dashboard", "completion",
)
# Imports that would make `lgr --help` slow; command modules import them inside functions.
HEAVY_MODULES = ("grpc", "textual")


def run_lgr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lgr ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "lgr", *args],
        capture_output=True, text=True, env=_env(env), timeout=30,
    )


def run_driver(body: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a script that imports ``app`` and ``main`` from lgr.cli, adds ``body``, calls main()."""
    script = "from lgr.cli import app, main\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_env(env), timeout=30
    )


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LGR_DEBUG", "NO_COLOR", "FORCE_COLOR")}
    env.update(extra or {})
    return env


def stderr_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


RAISE_CONFIG_ERROR = """
    from lgr.core.errors import ConfigError

    @app.command("boom")
    def boom() -> None:
        raise ConfigError(
            ["AGENT_PORT: not a port: 'x' " + "(a long message stays on one line) " * 4],
            hint="set AGENT_PORT to a number from 0 to 65535",
        )

    main(["boom"])
"""

RAISE_UNEXPECTED = """
    @app.command("boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    main(["boom"])
"""


def test_help_lists_every_planned_command() -> None:
    proc = run_lgr("--help", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    listed = set(re.findall(r"^│ (\w+)\s", proc.stdout, re.MULTILINE)) - {"-h", "-V"}
    missing = [name for name in PLANNED if name not in listed]
    assert not missing, f"missing from lgr --help: {missing}\n{proc.stdout}"
    assert "LGR_DEBUG" in proc.stdout


def test_help_does_not_import_heavy_modules() -> None:
    proc = run_driver(
        """
        import sys
        try:
            main(["--help"])
        except SystemExit:
            pass
        print("HEAVY:", sorted(m for m in sys.modules if m.split(".")[0] in HEAVY))
        """.replace("HEAVY)", repr(set(HEAVY_MODULES)) + ")")
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY: []" in proc.stdout, (
        "lgr --help imported heavy modules; import them inside the command function instead:\n"
        + proc.stdout.splitlines()[-1]
    )


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    proc = run_lgr(flag)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"lgr {__version__}"


def test_lgr_error_exits_with_its_named_code_and_one_red_line() -> None:
    # The message is longer than the 80 columns Rich assumes in a pipe: it must not wrap.
    proc = run_driver(RAISE_CONFIG_ERROR, env={"FORCE_COLOR": "1"})
    assert proc.returncode == ExitCode.CONFIG
    assert "Traceback" not in proc.stderr
    lines = stderr_lines(proc)
    assert len(lines) == 2, proc.stderr
    error, hint = lines
    assert "\x1b[1;31m" in error, "the error line should be bold red"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", error)
    assert plain.startswith("error: AGENT_PORT: not a port: 'x'")
    assert re.sub(r"\x1b\[[0-9;]*m", "", hint) == "hint: set AGENT_PORT to a number from 0 to 65535"


def test_lgr_error_with_debug_prints_a_traceback() -> None:
    proc = run_driver(RAISE_CONFIG_ERROR, env={"LGR_DEBUG": "1"})
    assert proc.returncode == ExitCode.CONFIG
    assert "Traceback (most recent call last)" in proc.stderr
    assert "ConfigError" in proc.stderr
    assert stderr_lines(proc)[-2].startswith("error: AGENT_PORT")


def test_unexpected_exception_exits_1_with_one_line() -> None:
    proc = run_driver(RAISE_UNEXPECTED)
    assert proc.returncode == ExitCode.FAILURE == 1
    assert "Traceback" not in proc.stderr
    lines = stderr_lines(proc)
    assert lines[0] == "error: unexpected RuntimeError: kaboom"
    assert lines[1:] == ["hint: run again with LGR_DEBUG=1 for a traceback"]


def test_unexpected_exception_with_debug_prints_a_traceback() -> None:
    proc = run_driver(RAISE_UNEXPECTED, env={"LGR_DEBUG": "1"})
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "RuntimeError: kaboom" in proc.stderr


@pytest.mark.parametrize(
    "args", [["--no-such-flag"], ["agent", "--no-such-flag"], ["completion", "tcsh"]]
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    proc = run_lgr(*args)
    assert proc.returncode == ExitCode.USAGE == 2
    assert "Traceback" not in proc.stderr


def test_placeholder_reports_not_built_with_its_own_code() -> None:
    proc = run_driver(
        """
        from lgr.core.errors import NotBuiltError

        @app.command("later")
        def later() -> None:
            raise NotBuiltError("lgr later", issue=3, hint="use upstream meanwhile")

        main(["later"])
        """
    )
    assert proc.returncode == ExitCode.NOT_BUILT
    assert stderr_lines(proc) == [
        "error: lgr later is not built yet (planned: issue #3)",
        "hint: use upstream meanwhile",
    ]


def test_exit_codes_are_distinct() -> None:
    values = [int(code) for code in ExitCode]
    assert len(values) == len(set(values)), f"two ExitCode names share a value: {list(ExitCode)}"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script(shell: str) -> None:
    proc = run_lgr("completion", shell)
    assert proc.returncode == 0, proc.stderr
    assert "_LGR_COMPLETE=complete_" + shell in proc.stdout


@pytest.mark.parametrize(
    ("shell", "env", "expected"),
    [
        ("bash", {"COMP_WORDS": "lgr ag", "COMP_CWORD": "1"}, "agent"),
        ("zsh", {"_TYPER_COMPLETE_ARGS": "lgr emit "}, '"counter"'),
        (
            "fish",
            {"_TYPER_COMPLETE_ARGS": "lgr completion f", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
            "fish",
        ),
    ],
)
def test_completion_answers_the_scripts_requests(
    shell: str, env: dict[str, str], expected: str
) -> None:
    # What the printed script makes the shell run at TAB time; typer answers only if lgr
    # registered its completers (it skips that when add_completion=False).
    proc = run_lgr(env={"_LGR_COMPLETE": f"complete_{shell}", **env})
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout, proc.stdout
