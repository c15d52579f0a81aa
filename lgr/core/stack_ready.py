"""Stack readiness: when a just-started component of a local stack counts as ready.

First its log must say ``<kind> <protocol> bound to: ADDR`` (grpc, http or ws), and ``metrics
bound to: URL`` when its metrics are on (the agent also ``agent udp bound to: ADDR``), so port 0
works: the bound addresses are read back. Then it must answer:

- router, agent, rlp: an mTLS handshake with the client certificate, as a gRPC client makes;
- gateway: an HTTPS request, its certificate checked against the stack's CA (any status: the
  gateway serves only /v2/read, which needs a token);
- tc: an HTTP request (any status);
- cache: GET /api/v1/info with 200, an mTLS handshake on its gRPC API (``cache grpc bound to:``)
  checked as "log-cache", and every router counts a subscription (its nozzle's), so an envelope
  emitted once `lgr up` reports ready is held for `lgr tail -n`;
- and the metrics endpoint, when on: GET /health over HTTPS with the client certificate.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lgr.core import probe
from lgr.core.stack_env import BOUND_PROTOCOL, GRPC_KINDS, url_of
from lgr.core.supervisor import ChildDiedError

if TYPE_CHECKING:
    from lgr.core.stack import Component, StackConfig

SERVER_NAMES = {"agent": "metron", "router": "doppler", "rlp": "reverselogproxy", "cache": "log-cache"}
_METRICS_RE = re.compile(r"metrics bound to: (\S+)")
_UDP_RE = re.compile(r"\bagent udp bound to: (\S+)")
_CACHE_GRPC_RE = re.compile(r"\bcache grpc bound to: (\S+)")
_SUBSCRIPTIONS_RE = re.compile(r"^subscriptions(?:\{[^}]*\})?\s+(\S+)", re.MULTILINE)


class Readiness:
    """Checks components of one stack, with TLS contexts made once from the client certificate."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._contexts: dict[str, ssl.SSLContext] = {}

    def ready(self, comp: Component, routers: Sequence[Component] = ()) -> bool:
        """True once ``comp`` is ready; raises ChildDiedError when its process has exited."""
        if not comp.child.alive():
            raise ChildDiedError(comp.child, "starting")
        if not self._read_addresses(comp):
            return False
        if not self._serving(comp, routers):
            return False
        if not comp.metrics_url:
            return True
        return probe.http_healthy(probe.health_url(comp.metrics_url), self.context("https"))

    def _read_addresses(self, comp: Component) -> bool:
        if not comp.address:
            m = comp.child.find(rf"\b{comp.kind} {BOUND_PROTOCOL[comp.kind]} bound to: (\S+)")
            if not m:
                return False
            comp.address = m.group(1)
            comp.url = url_of(comp.kind, comp.address)
        if comp.kind == "agent" and not comp.udp_address:
            m = comp.child.find(_UDP_RE)
            if not m:
                return False
            comp.udp_address = m.group(1)
        if comp.kind == "cache" and not comp.grpc_address:
            m = comp.child.find(_CACHE_GRPC_RE)
            if not m:
                return False
            comp.grpc_address = m.group(1)
        if not comp.metrics_url and comp.metrics_port >= 0:
            m = comp.child.find(_METRICS_RE)
            if not m:
                return False
            comp.metrics_url = m.group(1)
        return True

    def _serving(self, comp: Component, routers: Sequence[Component]) -> bool:
        if comp.kind in GRPC_KINDS:
            return probe.tls_accepts(comp.address, self.context("grpc"), SERVER_NAMES[comp.kind])
        if comp.kind == "gateway":
            return probe.http_get(f"{comp.url}/", self.context("https")) is not None
        if comp.kind == "tc":
            return probe.http_get(f"http://{comp.address}/") is not None
        if comp.kind == "cache":
            answer = probe.http_get(f"{comp.url}/api/v1/info")
            if answer is None or answer[0] != 200:
                return False
            if not probe.tls_accepts(comp.grpc_address, self.context("grpc"), SERVER_NAMES["cache"]):
                return False
            return all(
                self.subscriptions(r) >= 1 for r in routers if r.metrics_url)
        return True

    def subscriptions(self, router: Component) -> float:
        """The router's ``subscriptions`` gauge (0 when unreadable)."""
        answer = probe.http_get(router.metrics_url, self.context("https"))
        if answer is None or answer[0] != 200:
            return 0.0
        text = answer[1].decode("utf-8", "replace")
        return sum(float(v) for v in _SUBSCRIPTIONS_RE.findall(text))

    def context(self, kind: str) -> ssl.SSLContext:
        """The client context for ``grpc`` (ALPN h2) or ``https``, presenting the client certificate."""
        if kind not in self._contexts:
            files = self.config.cert_files("client")
            self._contexts[kind] = (probe.grpc_client_context(*files) if kind == "grpc"
                                    else probe.client_context(*files))
        return self._contexts[kind]
