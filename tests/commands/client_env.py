"""Running the real `lgr` CLI as a subprocess against test servers, with a clean client environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def client_env(pki, state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a client subprocess: the test CA's client cert, no stray LGR_ settings,
    a private state directory (so a real `lgr up` on this machine is never found), UTC."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LGR_") and k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(
        LGR_STATE_DIR=str(state_dir),
        LGR_CA_FILE=str(pki.ca),
        LGR_CERT_FILE=str(pki.cert("client")),
        LGR_KEY_FILE=str(pki.key("client")),
        TZ="UTC",
    )
    env.update(extra)
    return env


def lgr_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "lgr", *args]


def run_lgr(*args: str, env: dict[str, str], stdin: bytes | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    """Run ``lgr ARGS`` to completion, capturing bytes."""
    return subprocess.run(lgr_cmd(*args), input=stdin, capture_output=True, env=env, timeout=timeout)


def error_lines(proc: subprocess.CompletedProcess[bytes]) -> list[str]:
    return [line for line in proc.stderr.decode().splitlines() if line.strip()]


def run_on_a_terminal(*args: str, env: dict[str, str], timeout: float = 30) -> tuple[int, bytes, bytes]:
    """Run ``lgr ARGS`` with its stdout on a pseudo-terminal (what a user's shell gives it) and its
    stderr piped; its exit code, everything written to the terminal, and stderr."""
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    proc = subprocess.Popen(lgr_cmd(*args), stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    return proc.returncode, bytes(out), err
