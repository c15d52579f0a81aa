"""A second rlp process beside an E2EStack's, reading the same routers (for two-rlp scenarios)."""

from __future__ import annotations

import contextlib

import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lgr.core.stack_env import Peers, component_env, unset_env
from lgr.core.supervisor import Child, ChildSpec
from tests.conftest import wait_until


@dataclass
class ExtraRlp:
    child: Child
    address: str = ""
    metrics_url: str = ""


@contextlib.contextmanager
def second_rlp(stack, log_dir: Path) -> Iterator[ExtraRlp]:
    """Start another rlp on any free ports reading ``stack``'s routers; stop it at exit."""
    config = stack.stack.config
    peers = Peers(routers=[r.address for r in stack.routers])
    env = component_env("rlp", config, 0, 0, peers)
    child = Child(ChildSpec("rlp-2", [sys.executable, "-m", "lgr", "rlp", "start"], log_dir / "rlp-2.log",
                            env=env, unset_env=unset_env("rlp")))
    child.start()
    rlp = ExtraRlp(child)
    try:
        def bound() -> bool:
            grpc_line = child.find(r"\brlp grpc bound to: (\S+)")
            metrics_line = child.find(r"metrics bound to: (\S+)")
            if grpc_line and metrics_line:
                rlp.address, rlp.metrics_url = grpc_line.group(1), metrics_line.group(1)
                return True
            assert child.alive(), child.log_text()
            return False

        wait_until(bound, timeout=30, interval=0.05)
        yield rlp
    finally:
        if child.alive():
            child.signal(signal.SIGTERM)
            if child.wait(10) is None:
                child.signal(signal.SIGKILL)
                child.wait(5)


__all__ = ["ExtraRlp", "second_rlp"]
