"""A real `lgr` process under test, a component or a client: its environment, its stderr lines,
its lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator, Mapping, Sequence

from tests.commands.client_env import lgr_cmd

# The settings of the router, the RLP and the gateway's tests (their names' starts).
FIREHOSE_VARS = ("ROUTER_", "RLP_", "METRICS_", "LGR_ROUTER_", "LGR_RLP_", "INGRESS_", "MAX_EGRESS")


def lgr_env(extra: Mapping[str, str], ours: Sequence[str] = FIREHOSE_VARS) -> dict[str, str]:
    """os.environ without LGR_DEBUG or any variable whose name starts with one of ``ours``,
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k != "LGR_DEBUG" and not k.startswith(tuple(ours))}
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def lgr_process(*args: str, env: Mapping[str, str],
                      stdout: int | None = None) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start ``lgr ARGS`` with its stderr piped; yield it; kill it at exit if it still runs."""
    proc = await asyncio.create_subprocess_exec(*lgr_cmd(*args), env=dict(env), stdout=stdout,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def wait_for_line(proc: asyncio.subprocess.Process, *patterns: re.Pattern[str]) -> list[str]:
    """Read the process's stderr until every pattern matched a line; their first groups."""
    seen: list[str] = []
    found: dict[re.Pattern[str], str] = {}
    while len(found) < len(patterns):
        line = (await asyncio.wait_for(proc.stderr.readline(), 15)).decode()
        assert line, f"process exited early: {''.join(seen)}"
        seen.append(line)
        for pattern in patterns:
            if match := pattern.search(line):
                found[pattern] = match.group(1)
    return [found[p] for p in patterns]


async def terminate(proc: asyncio.subprocess.Process, timeout: float = 15) -> int:
    """Send SIGTERM (a graceful stop) and wait for the process to exit; its exit code."""
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), timeout)
