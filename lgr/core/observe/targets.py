"""Targets: the components the dashboard watches, from `lgr up`'s state or given on the command line.

A target has a name (``router-2``), a kind (agent, router, rlp, gateway, tc, cache), and what
can be probed: a metrics URL (scraped for rates, ``/health`` beside it for health), the gRPC or
HTTPS address, and, for a local stack, the pid (which gives the uptime when the metrics do not).

On the command line a target is ``[NAME=]URL``, e.g. ``router=https://10.0.0.5:14825/metrics``;
the kind is the name without a trailing ``-N``, and a URL without a path gets ``/metrics``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lgr.core.up_state import UpState

KINDS = ("agent", "router", "rlp", "gateway", "tc", "cache")
# TLS server names of the gRPC servers, for a handshake probe when a target has no metrics URL.
SERVER_NAMES = {"agent": "metron", "router": "doppler", "rlp": "reverselogproxy"}

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")


@dataclass(frozen=True)
class Target:
    """One component to watch; see the module docstring."""

    name: str
    kind: str
    metrics_url: str = ""
    address: str = ""
    pid: int | None = None

    @property
    def server_name(self) -> str | None:
        return SERVER_NAMES.get(self.kind)


def from_state(state: UpState) -> list[Target]:
    """Every component of a running `lgr up`, in its start order."""
    return [
        Target(c.name, c.kind, c.metrics_url, c.address, c.pid or None)
        for c in state.components
    ]


def parse_target(spec: str) -> Target:
    """A target from ``[NAME=]URL``; raises ValueError naming what is wrong."""
    name, sep, url = spec.partition("=")
    if not sep or "://" in name:
        name, url = "", spec
    url = url.strip()
    scheme, has_scheme, rest = url.partition("://")
    if not has_scheme or scheme not in ("http", "https") or not rest:
        raise ValueError(f"{spec!r}: give a metrics URL, e.g. router=https://127.0.0.1:14825/metrics")
    hostport, _, path = rest.partition("/")
    if not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):\d{1,5}", hostport):
        raise ValueError(f"{spec!r}: the URL needs host:port, e.g. https://127.0.0.1:14825/metrics")
    if not path:
        url = f"{scheme}://{hostport}/metrics"
    name = name.strip()
    if name and not _NAME_RE.match(name):
        raise ValueError(f"{spec!r}: a name may hold letters, digits, '.', '_' and '-'")
    kind = re.sub(r"-\d+\Z", "", name)
    return Target(name or hostport, kind if kind in KINDS else "component", url, hostport)


def parse_targets(specs: Iterable[str]) -> list[Target]:
    """Targets from several specs; names made unique by a ``-N`` suffix."""
    out: list[Target] = []
    seen: set[str] = set()
    for spec in specs:
        target = parse_target(spec)
        name, n = target.name, 2
        while name in seen:
            name, n = f"{target.name}-{n}", n + 1
        seen.add(name)
        out.append(target if name == target.name else
                   Target(name, target.kind, target.metrics_url, target.address, target.pid))
    return out
