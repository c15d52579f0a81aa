"""End-to-end fixtures: router(s), agent and rlp as real `python -m lgr ... start` processes.

The stack is started by lgr.core.stack (as `lgr up` does) with port 0 for every gRPC, UDP and
metrics port, the bound ports read back from each component's "... bound to: ..." log lines.
Certificates come from the session's ``pki`` fixture. Teardown stops every process (SIGKILL after a grace).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from lgr.core.stack import Component, Stack, StackConfig
from tests.conftest import PKI, wait_until
from tests.e2e.helpers import Consumer, Emitter, Metrics

AGENT_ENV = {
    "AGENT_DEPLOYMENT": "cf",
    "AGENT_JOB": "diego-cell",
    "AGENT_INDEX": "3",
    "AGENT_IP": "10.0.16.5",
    "AGENT_TAGS": "zone:z1,job:agent-job",
}


class E2EStack:
    """A started stack plus clients bound to it; everything it opened is closed by ``close()``."""

    def __init__(self, pki: PKI, log_dir: Path, routers: int = 1,
                 extra_env: dict[str, dict[str, str]] | None = None) -> None:
        self.pki = pki
        env = {"agent": dict(AGENT_ENV)}
        for kind, values in (extra_env or {}).items():
            env.setdefault(kind, {}).update(values)
        self.stack = Stack(StackConfig(
            certs_dir=pki.dir, log_dir=log_dir, routers=routers, router_port=0, agent_port=0,
            udp_port=0, rlp_port=0, agent_metrics_port=0, router_metrics_port=0, rlp_metrics_port=0,
            extra_env=env, ready_timeout=30,
        ))
        self.consumers: list[Consumer] = []
        self.emitters: list[Emitter] = []

    def start(self) -> E2EStack:
        try:
            self.stack.start()
        except BaseException:
            self.close()
            raise
        return self

    @property
    def files(self) -> tuple[Path, Path, Path]:
        return self.pki.files("client")

    @property
    def agent(self) -> Component:
        return self.stack.of_kind("agent")[0]

    @property
    def rlp(self) -> Component:
        return self.stack.of_kind("rlp")[0]

    @property
    def routers(self) -> list[Component]:
        return self.stack.of_kind("router")

    def metrics(self, comp: Component) -> Metrics:
        return Metrics(comp.metrics_url, self.files)

    def consumer(self, selectors: Sequence, shard_id: str = "", stalled: bool = False,
                 use_preferred_tags: bool = True, wait: bool = True) -> Consumer:
        """Open a consumer on the rlp; by default wait until every router has its subscription."""
        c = Consumer(self.rlp.address, self.files, selectors, shard_id, stalled, use_preferred_tags)
        self.consumers.append(c)
        if wait:
            self.wait_subscriptions()
        return c

    def close_consumer(self, c: Consumer) -> None:
        c.close()
        self.consumers.remove(c)

    def wait_subscriptions(self, timeout: float = 15) -> None:
        """Wait until each router counts exactly one subscription per open consumer."""
        want = len(self.consumers)

        def settled() -> bool:
            return all(self.metrics(r).value("subscriptions") == want for r in self.routers)

        wait_until(settled, timeout=timeout, interval=0.05)

    def emitter(self) -> Emitter:
        e = Emitter(self.agent.address, self.files)
        self.emitters.append(e)
        return e

    def close(self) -> None:
        for c in self.consumers:
            c.close()
        for e in self.emitters:
            e.close()
        self.consumers.clear()
        self.emitters.clear()
        self.stack.stop(grace=5)


@pytest.fixture(scope="module")
def shared_stack(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    """One stack (1 router) for tests that only add consumers; each test uses its own source ids."""
    s = E2EStack(pki, tmp_path_factory.mktemp("e2e-logs")).start()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def e2e(shared_stack: E2EStack) -> Iterator[E2EStack]:
    """The shared stack, with this test's consumers and emitters closed afterwards."""
    try:
        yield shared_stack
    finally:
        for c in list(shared_stack.consumers):
            shared_stack.close_consumer(c)
        for e in shared_stack.emitters:
            e.close()
        shared_stack.emitters.clear()


@pytest.fixture
def make_stack(pki: PKI, tmp_path: Path) -> Iterator:
    """Start a private stack: ``make_stack(routers=2, extra_env={...})``; stopped at teardown."""
    made: list[E2EStack] = []

    def make(routers: int = 1, extra_env: dict[str, dict[str, str]] | None = None) -> E2EStack:
        s = E2EStack(pki, tmp_path / f"logs{len(made)}", routers, extra_env)
        made.append(s)
        return s.start()

    try:
        yield make
    finally:
        for s in made:
            s.close()
