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
