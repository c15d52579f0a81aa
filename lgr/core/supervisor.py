"""Supervisor: spawns child processes with their output in log files, watches them, stops them in order.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only the supervising
process, which then stops the children itself, last started first: SIGTERM, and SIGKILL for any
still running after the grace period. On Linux a child also gets SIGTERM if its supervisor dies
without stopping it (``PR_SET_PDEATHSIG``), so a killed `lgr up` leaves no orphans behind. The
child sets that itself (:func:`die_with_parent`, called by `lgr <component> start` when
``LGR_PARENT_PID`` is set): a ``preexec_fn`` would run Python's after-fork handlers between fork
and exec, and in a process with gRPC threads those can abort the child (seen as SIGABRT).

A child's stdout and stderr go to one log file, which the supervisor reads to find lines such as
``router grpc bound to: 127.0.0.1:8082`` and to show a dead child's last lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lgr.core.errors import ExitCode, LgrError
from lgr.core.paths import writing

TAIL_BYTES = 64 * 1024

PARENT_PID_ENV = "LGR_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent(env: Mapping[str, str] | None = None) -> None:
    """In a supervised child: get SIGTERM when the supervisor named by LGR_PARENT_PID dies.

    Exits at once if that supervisor is already gone. Does nothing without the variable or off
    Linux.
    """
    raw = (os.environ if env is None else env).get(PARENT_PID_ENV, "")
    if not raw.isdigit() or not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(raw):  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass(frozen=True)
class ChildSpec:
    """What to run: a name, argv, env vars added to the supervisor's own, and the log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    unset_env: tuple[str, ...] = ()
    append: bool = False  # keep the log's earlier contents (a restart); else truncate it


class Child:
    """One child process and its log file."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self._log_offset = 0  # where this run's output starts in the log file

    def start(self) -> None:
        """Spawn the process; its output goes to ``spec.log_path`` (truncated unless ``append``)."""
        env = {k: v for k, v in os.environ.items() if k not in self.spec.unset_env}
        env.update(self.spec.env)
        env[PARENT_PID_ENV] = str(os.getpid())
        with writing(self.spec.log_path, "make it writable, or choose another --log-dir"):
            self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(self.spec.log_path, "ab" if self.spec.append else "wb")  # noqa: SIM115
        with log:
            self._log_offset = log.tell()
            self.proc = subprocess.Popen(
                self.spec.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int:
        assert self.proc is not None, "start() first"
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the child has exited (negative: killed by that signal), else None."""
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` if the child still runs."""
        if self.alive():
            assert self.proc is not None
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for the child to exit; return its status or None."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=max(timeout, 0))
        except subprocess.TimeoutExpired:
            return None

    def log_text(self) -> str:
        """This run's output so far (decoded leniently)."""
        try:
            with open(self.spec.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> list[str]:
        """The last non-empty ``lines`` lines of the log file."""
        try:
            with open(self.spec.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(self._log_offset, size - TAIL_BYTES))
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [line for line in data.splitlines() if line.strip()][-lines:]

    def find(self, pattern: str | re.Pattern[str]) -> re.Match[str] | None:
        """The first match of ``pattern`` in the log so far, or None."""
        compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.MULTILINE)
        return compiled.search(self.log_text())

    def describe_exit(self) -> str:
        """``exited with code 3`` or ``was killed by SIGKILL``."""
        code = self.returncode
        if code is None:
            return "is running"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"


class ChildDiedError(LgrError):
    """A child exited on its own; ``lines`` holds the last lines of its log."""

    exit_code = ExitCode.COMPONENT_DIED

    def __init__(self, child: Child, during: str = "") -> None:
        when = f" while {during}" if during else ""
        super().__init__(
            f"{child.name} (pid {child.pid}) {child.describe_exit()}{when}",
            hint=f"its full log is {child.spec.log_path}",
        )
        self.child = child
        self.lines = child.tail(15)


class Supervisor:
    """Starts children and stops them all, last started first."""

    def __init__(self) -> None:
        self.children: list[Child] = []

    def spawn(self, spec: ChildSpec) -> Child:
        """Start a child from ``spec`` and keep it."""
        child = Child(spec)
        child.start()
        self.children.append(child)
        return child

    def forget(self, child: Child) -> None:
        """Stop watching ``child`` (an exited one that has been replaced)."""
        self.children = [c for c in self.children if c is not child]

    def first_dead(self) -> Child | None:
        """The first child that has exited, or None while all run."""
        for child in self.children:
            if child.proc is not None and child.returncode is not None:
                return child
        return None

    def stop(self, grace: float = 8.0, children: Iterable[Child] | None = None) -> None:
        """SIGTERM every child, newest first; SIGKILL whatever still runs after ``grace`` seconds."""
        targets = list(children) if children is not None else list(self.children)
        for child in reversed(targets):
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(targets):
            child.wait(deadline - time.monotonic())
        self.kill(targets)

    def kill(self, children: Iterable[Child] | None = None) -> None:
        """SIGKILL every child still running and reap it."""
        targets = list(children) if children is not None else list(self.children)
        for child in targets:
            child.signal(signal.SIGKILL)
        for child in targets:
            child.wait(5.0)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
