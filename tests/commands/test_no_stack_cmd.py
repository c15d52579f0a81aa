"""The client commands on a machine where no `lgr up` runs and no certificates exist: one error
line that says so, a hint to run `lgr up` or `lgr certs gen`, exit code NO_STACK."""

from __future__ import annotations

import os

import pytest

from lgr.core.errors import ExitCode
from tests.commands.client_env import error_lines, run_lgr


def bare_env(state_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LGR_") and k != "NO_COLOR"}
    env["LGR_STATE_DIR"] = str(state_dir)
    return env


@pytest.mark.parametrize("args", [("dashboard",), ("tail",), ("tail", "my-app"), ("tail", "--app", "x", "-f"),
                                  ("emit", "log", "hi"), ("meta",)])
def test_says_no_stack_runs_and_how_to_start_one(tmp_path, args):
    proc = run_lgr(*args, env=bare_env(tmp_path))
    assert proc.returncode == ExitCode.NO_STACK
    lines = error_lines(proc)
    assert len(lines) == 2, lines
    assert lines[0].startswith("error: no lgr stack is running")
    assert f"no up.json in {tmp_path}" in lines[0]
    assert lines[1].startswith("hint: start one with `lgr up`") and "lgr certs gen" in lines[1]


def test_an_address_given_is_used_and_its_own_errors_shown(tmp_path):
    env = {**bare_env(tmp_path), "LGR_CACHE_ADDR": "127.0.0.1:1"}
    proc = run_lgr("meta", env=env)
    assert proc.returncode == ExitCode.UNAVAILABLE
    assert "no lgr stack" not in proc.stderr.decode()


def test_certificates_from_lgr_certs_gen_are_enough_to_try(tmp_path):
    assert run_lgr("certs", "gen", env=bare_env(tmp_path)).returncode == 0
    proc = run_lgr("tail", "--connect-timeout", "0.2", env=bare_env(tmp_path))
    assert proc.returncode == ExitCode.UNAVAILABLE
    assert "cannot reach the reverse log proxy" in proc.stderr.decode()
