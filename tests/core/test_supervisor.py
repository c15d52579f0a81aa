"""Supervisor: children log to files, a dead child is noticed, stop escalates to SIGKILL."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from lgr.core.errors import ExitCode
from lgr.core.supervisor import ChildDiedError, ChildSpec, Supervisor
from lgr.core.up_state import pid_alive
from tests.conftest import wait_until

IGNORES_TERM = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(1)
"""

SAYS_AND_EXITS = """
import sys
for i in range(30):
    print(f"line {i}", file=sys.stderr)
sys.exit(3)
"""


def _spec(tmp_path: Path, name: str, code: str, **env: str) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-c", code], tmp_path / f"{name}.log", env=env)


def test_dead_child_is_reported_with_its_last_lines(tmp_path: Path) -> None:
    sup = Supervisor()
    sleeper = sup.spawn(_spec(tmp_path, "sleeper", "import time; time.sleep(60)"))
    dying = sup.spawn(_spec(tmp_path, "dying", SAYS_AND_EXITS))
    try:
        wait_until(lambda: sup.first_dead() is not None, timeout=10)
        assert sup.first_dead() is dying
        assert dying.describe_exit() == "exited with code 3"
        assert dying.tail(3) == ["line 27", "line 28", "line 29"]
        error = ChildDiedError(dying, "starting")
        assert error.message == f"dying (pid {dying.pid}) exited with code 3 while starting"
        assert error.exit_code == ExitCode.COMPONENT_DIED and error.lines[-1] == "line 29"
        assert sleeper.alive()
    finally:
        sup.stop(grace=5)
    assert not sleeper.alive()
    assert sleeper.describe_exit() == f"was killed by {signal.SIGTERM.name}"


def test_stop_kills_a_child_that_ignores_sigterm_after_the_grace(tmp_path: Path) -> None:
    sup = Supervisor()
    stubborn = sup.spawn(_spec(tmp_path, "stubborn", IGNORES_TERM))
    wait_until(lambda: stubborn.find(r"^ready$"), timeout=10)
    started = time.monotonic()
    sup.stop(grace=0.5)
    assert time.monotonic() - started < 5
    assert stubborn.returncode == -signal.SIGKILL
    assert not pid_alive(stubborn.pid)


def test_env_is_added_and_removed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LGR_TEST_DROP", "x")
    code = "import os; print(os.environ.get('LGR_TEST_ADD'), os.environ.get('LGR_TEST_DROP'))"
    spec = ChildSpec("env", [sys.executable, "-c", code], tmp_path / "env.log",
                     env={"LGR_TEST_ADD": "added"}, unset_env=("LGR_TEST_DROP",))
    with Supervisor() as sup:
        child = sup.spawn(spec)
        assert child.wait(10) == 0
    assert child.log_text().strip() == "added None"


def test_child_dies_with_its_supervisor(tmp_path: Path) -> None:
    # A supervising process that is SIGKILLed must not leave its children running.
    code = f"""
import sys, time
from pathlib import Path
from lgr.core.errors import ExitCode
from lgr.core.supervisor import ChildDiedError, ChildSpec, Supervisor
sup = Supervisor()
# Components call die_with_parent() first thing (lgr/commands/_serve.py); so does this child.
child_code = "from lgr.core.supervisor import die_with_parent; die_with_parent(); import time; time.sleep(60)"
c = sup.spawn(ChildSpec("c", [sys.executable, "-c", child_code], Path({str(tmp_path)!r}) / "c.log"))
print(c.pid, flush=True)
time.sleep(60)
"""
    import subprocess

    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert pid_alive(child_pid)
    finally:
        parent.kill()
        parent.wait(10)
    wait_until(lambda: not _running(child_pid), timeout=10)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init, but may linger a moment)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
