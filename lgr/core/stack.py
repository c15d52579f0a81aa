"""Stack: runs the whole system as child processes on loopback, wired to each other over mTLS.

`lgr up`, the end-to-end tests and the firehose benchmark all start the system this way: each
component is ``python -m lgr <component> start`` configured by upstream's env vars
(lgr.core.stack_env), with its output in a log file. Routers start first; then the agent
(ROUTER_ADDR) and the rlp (ROUTER_ADDRS), given every router; then, when asked for, the rlp
gateway and the log cache (both reading the rlp), and last the traffic controller (the routers,
the agent for its own metrics, the cache for recent logs). Each wave waits until its components
are ready (lgr.core.stack_ready), so port 0 works everywhere: bound ports are read back from the
components' logs.

Metrics are served over HTTPS with client certificates, as upstream's: each component uses its own
certificate for them (the METRICS_*_FILE_PATH variables are removed from the children's
environment so a stray one cannot change that), and any certificate of the stack's CA reads them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lgr.core import probe
from lgr.core.errors import UnavailableError
from lgr.core.stack_env import KINDS, Peers, cache_grpc_env, component_env, port_env, unset_env
from lgr.core.stack_ready import Readiness
from lgr.core.supervisor import Child, ChildSpec, Supervisor
from lgr.core.up_state import ComponentState, UpState, now_iso

__all__ = ["KINDS", "Component", "Stack", "StackConfig", "ensure_certs"]

COMPONENT_CERTS = ("agent", "router", "rlp", "gateway", "tc", "cache", "client")
CONSUMERS = ("gateway", "cache", "tc")  # optional, in start order

Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class StackConfig:
    """Ports (0 = any free port), certificates and log directory of a local stack."""

    certs_dir: Path
    log_dir: Path
    routers: int = 1
    host: str = "127.0.0.1"
    router_port: int = 8082
    agent_port: int = 3458
    udp_port: int = 3457
    rlp_port: int = 8083
    agent_metrics_port: int = 14824
    router_metrics_port: int = 14825
    rlp_metrics_port: int = 14826
    # The rlp gateway, traffic controller and log cache run only when asked for.
    gateway: bool = False
    tc: bool = False
    cache: bool = False
    gateway_port: int = 8088
    tc_port: int = 8081
    cache_port: int = 8080
    cache_grpc_port: int = 0  # the log cache's gRPC API (upstream's logcache.v1 services)
    gateway_metrics_port: int = 14827
    tc_metrics_port: int = 14828
    cache_metrics_port: int = 6060
    # LGR_TOKENS_FILE of the gateway, tc and cache (None: their default, tokens.json in the state dir).
    tokens_file: Path | None = None
    cache_memory_limit: str = "256MiB"
    # More env vars per kind (e.g. {"agent": {"AGENT_DEPLOYMENT": "d"}}), applied last.
    extra_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    python: str = sys.executable
    ready_timeout: float = 30.0

    def cert_files(self, name: str) -> tuple[str, str, str]:
        """(ca, cert, key) paths of certificate ``name``."""
        d = self.certs_dir
        return str(d / "ca.crt"), str(d / f"{name}.crt"), str(d / f"{name}.key")


@dataclass
class Component:
    """A started component: its child process and the addresses read back from its log."""

    name: str
    kind: str
    child: Child
    grpc_port: int
    metrics_port: int
    address: str = ""
    metrics_url: str = ""
    udp_address: str = ""
    url: str = ""  # how HTTP/websocket clients reach it (gateway, tc, cache)
    grpc_address: str = ""  # the cache's gRPC API

    def state(self) -> ComponentState:
        return ComponentState(
            name=self.name, kind=self.kind, address=self.address, pid=self.child.pid,
            metrics_url=self.metrics_url, log=str(self.child.spec.log_path), udp_address=self.udp_address,
            url=self.url, grpc_address=self.grpc_address,
        )


def ensure_certs(certs_dir: Path) -> list[str]:
    """Make the CA and the certificates the stack needs when missing, and again, signed by the same
    CA, when one does not carry the names and usages lgr now gives its role (one made by an older
    lgr: every server name on every leaf, or no "log-cache"); return the names made."""
    from lgr.core import cert_roles, certs  # cryptography is slow to import

    if not certs.has_ca(certs_dir):
        return [r.name for r in certs.generate_pki(certs_dir)]
    missing = [n for n in COMPONENT_CERTS
               if not certs.cert_path(certs_dir, n).exists() or not certs.key_path(certs_dir, n).exists()
               or cert_roles.is_stale(certs.cert_path(certs_dir, n), n)]
    if missing:
        return [r.name for r in certs.add_client_certs(certs_dir, missing, force=True)]
    return []


class Stack:
    """Starts, describes and stops one local stack; ``start()`` returns once every part is ready."""

    def __init__(self, config: StackConfig, supervisor: Supervisor | None = None) -> None:
        self.config = config
        self.supervisor = supervisor or Supervisor()
        self.components: list[Component] = []
        self.started_at = ""
        self.readiness = Readiness(config)

    def enabled(self, kind: str) -> bool:
        """True when ``kind`` is part of this stack (routers, agent and rlp always are)."""
        return kind not in CONSUMERS or bool(getattr(self.config, kind))

    # --- ports ---------------------------------------------------------------------------

    def check_ports(self) -> list[str]:
        """Raise PortInUseError for a taken service port; move taken metrics ports to free ones.

        Returns a note for each metrics port moved. Router ports after the first are always 0.
        """
        c = self.config
        probe.check_port_free(c.host, c.router_port, "tcp", "router")
        probe.check_port_free(c.host, c.agent_port, "tcp", "agent")
        probe.check_port_free(c.host, c.udp_port, "udp", "agent's v1 UDP")
        probe.check_port_free(c.host, c.rlp_port, "tcp", "rlp")
        roles = ["agent", "router", "rlp"]
        for kind in CONSUMERS:
            if self.enabled(kind):
                probe.check_port_free(c.host, getattr(c, f"{kind}_port"), "tcp", kind)
                roles.append(kind)
        if self.enabled("cache"):
            probe.check_port_free(c.host, c.cache_grpc_port, "tcp", "cache gRPC API")
        notes, moved = [], {}
        for role in roles:
            attr = f"{role}_metrics_port"
            try:
                probe.check_port_free(c.host, getattr(c, attr), "tcp", f"{role} metrics")
            except probe.PortInUseError as exc:
                moved[attr] = 0
                notes.append(f"{role} metrics port {exc.port} is in use; using a free port instead")
        if moved:
            self.config = replace(c, **moved)
            self.readiness.config = self.config
        return notes

    # --- start ---------------------------------------------------------------------------

    def start(self, progress: Progress | None = None, aborted: Callable[[], bool] | None = None) -> None:
        """Start routers; then the agent and the rlp; then gateway and cache; then the tc.

        Each wave is waited for before the next (see the module docstring). ``progress(name,
        phase)`` is told "starting" and "ready"; ``aborted()`` is polled while waiting and stops
        the wait with KeyboardInterrupt when true. Raises ChildDiedError when a component exits,
        UnavailableError when one is not ready in time.
        """
        self.started_at = now_iso()
        c = self.config
        names = ["router"] if c.routers == 1 else [f"router-{i + 1}" for i in range(c.routers)]
        routers = [
            self.launch("router", name, c.router_port if i == 0 else 0,
                        c.router_metrics_port if i == 0 else 0, progress)
            for i, name in enumerate(names)
        ]
        self.wait_ready(routers, progress, aborted)
        agent = self.launch("agent", "agent", c.agent_port, c.agent_metrics_port, progress,
                            udp_port=c.udp_port)
        rlp = self.launch("rlp", "rlp", c.rlp_port, c.rlp_metrics_port, progress)
        self.wait_ready([agent, rlp], progress, aborted)
        readers = [self.launch(kind, kind, getattr(c, f"{kind}_port"), getattr(c, f"{kind}_metrics_port"),
                               progress) for kind in ("gateway", "cache") if self.enabled(kind)]
        self.wait_ready(readers, progress, aborted)
        if self.enabled("tc"):
            self.wait_ready([self.launch("tc", "tc", c.tc_port, c.tc_metrics_port, progress)],
                            progress, aborted)

    def peers(self) -> Peers:
        """The addresses of the components started so far, as the next ones are given them."""
        def first(kind: str) -> str:
            found = self.of_kind(kind)
            return found[0].address if found else ""

        return Peers(self.router_addresses(), first("agent"), first("rlp"), first("cache"))

    def launch(self, kind: str, name: str, port: int, metrics_port: int,
               progress: Progress | None = None, udp_port: int = 0) -> Component:
        """Spawn one component (not waiting for it); ``port`` 0 = any free port."""
        c = self.config
        spec = ChildSpec(
            name=name,
            argv=[c.python, "-m", "lgr", kind, "start"],
            log_path=c.log_dir / f"{name}.log",
            env=component_env(kind, c, port, metrics_port, self.peers(), udp_port),
            unset_env=unset_env(kind),
        )
        if progress:
            progress(name, "starting")
        child = self.supervisor.spawn(spec)
        comp = Component(name, kind, child, port, metrics_port)
        if kind == "agent" and udp_port:
            comp.udp_address = f"127.0.0.1:{udp_port}"
        self.components.append(comp)
        return comp

    def wait_ready(self, comps: list[Component], progress: Progress | None = None,
                   aborted: Callable[[], bool] | None = None) -> None:
        """Wait until every component in ``comps`` is ready (lgr.core.stack_ready)."""
        deadline = time.monotonic() + self.config.ready_timeout
        pending = list(comps)
        while pending:
            for comp in list(pending):
                if self.readiness.ready(comp, self.of_kind("router")):
                    pending.remove(comp)
                    if progress:
                        progress(comp.name, "ready")
            if not pending:
                return
            if aborted is not None and aborted():
                raise KeyboardInterrupt
            if time.monotonic() > deadline:
                names = ", ".join(p.name for p in pending)
                raise UnavailableError(
                    f"{names} not ready after {self.config.ready_timeout:.0f}s",
                    hint=f"see the logs in {self.config.log_dir}",
                )
            time.sleep(0.05)

    def relaunch(self, name: str) -> Component:
        """Start component ``name`` again, after it exited, on the same ports; wait until ready."""
        old = self.get(name)
        if old.child.alive():
            raise RuntimeError(f"{name} is still running")
        port = probe.split_address(old.address)[1]
        metrics_port = probe.split_address(old.metrics_url.split("://", 1)[-1].split("/", 1)[0])[1] \
            if old.metrics_url else old.metrics_port
        spec = old.child.spec
        env = {**spec.env, **port_env(old.kind, self.config.host, port), "METRICS_PORT": str(metrics_port)}
        if old.grpc_address:
            env.update(cache_grpc_env(self.config.host, probe.split_address(old.grpc_address)[1]))
        self.supervisor.forget(old.child)
        child = self.supervisor.spawn(replace(spec, env=env, append=True))
        new = Component(old.name, old.kind, child, port, metrics_port, udp_address=old.udp_address)
        self.components[self.components.index(old)] = new
        self.wait_ready([new])
        return new

    # --- describe, stop --------------------------------------------------------------------

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.components if c.kind == kind]

    def get(self, name: str) -> Component:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(name)

    def router_addresses(self) -> list[str]:
        return [c.address for c in self.of_kind("router") if c.address]

    def first_dead(self) -> Component | None:
        """The first component whose process has exited, or None."""
        dead = self.supervisor.first_dead()
        return next((c for c in self.components if c.child is dead), None) if dead else None

    def state(self, pid: int, state_dir: Path, token_file: Path | None = None) -> UpState:
        """The stack as `lgr up`'s state file records it."""
        return UpState(
            pid=pid, started_at=self.started_at, state_dir=str(state_dir),
            certs_dir=str(self.config.certs_dir), log_dir=str(self.config.log_dir),
            components=[c.state() for c in self.components],
            token_file=str(token_file) if token_file else "",
            tokens_file=str(self.config.tokens_file) if self.config.tokens_file else "",
        )

    def stop(self, grace: float = 8.0) -> None:
        """Stop every component: the rest first (the agent flushes to the routers), routers last."""
        deadline = time.monotonic() + grace
        edges = [c.child for c in self.components if c.kind != "router"]
        self.supervisor.stop(grace, edges)
        self.supervisor.stop(max(1.0, deadline - time.monotonic()))
