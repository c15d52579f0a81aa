"""gRPC's I/O engine for the components: the poller that does the socket I/O itself.

gRPC 1.85 moves socket I/O to its EventEngine threads, which hand every completed read or write
to the completion-queue poller thread, which wakes the asyncio loop: one thread wake-up more per
message than the older I/O manager, where the poller thread does the I/O itself. On a small VM a
wake-up costs 250–500 µs, and every envelope crosses four gRPC hops, so the components turn the
EventEngine endpoints off through gRPC's own switch, ``GRPC_EXPERIMENTS``. In six alternating
10 s trials at 10k env/s the median p50 went from 2.27 to 2.00 ms (p99 ≤ 5 ms in 6 of 6 trials
against 5 of 6), and at 200k env/s it lost less (0–1.2% against 0.1–6.7%) with a few percent
less CPU in the router and the agent (bench/README.md).

The switch is only set when the environment has no ``GRPC_EXPERIMENTS`` of its own (an empty
value counts as set: ``GRPC_EXPERIMENTS=`` keeps gRPC's defaults). gRPC reads it once, when its
core starts, so :func:`prefer_poller_io` must run before the first channel or server is made;
an experiment that gRPC no longer knows is ignored but logged as an error at start-up, so the
switch is only set for the gRPC releases it was measured on (:data:`VERIFIED`); under any other
release the components run on gRPC's defaults.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from importlib import metadata

ENV = "GRPC_EXPERIMENTS"
POLLER_IO = "-event_engine_client,-event_engine_listener,-event_engine_for_all_other_endpoints"
VERIFIED = ("1.85",)  # grpcio major.minor releases that know these experiments


def grpcio_release() -> str:
    """The installed grpcio's ``major.minor`` (read from its metadata: grpc is not imported)."""
    try:
        return ".".join(metadata.version("grpcio").split(".")[:2])
    except metadata.PackageNotFoundError:
        return ""


def prefer_poller_io(
    environ: MutableMapping[str, str] | None = None, release: str | None = None
) -> bool:
    """Set ``GRPC_EXPERIMENTS`` to :data:`POLLER_IO` unless already set or gRPC is a release
    not in :data:`VERIFIED`; True if it set it."""
    env = os.environ if environ is None else environ
    if ENV in env:
        return False
    if (grpcio_release() if release is None else release) not in VERIFIED:
        return False
    env[ENV] = POLLER_IO
    return True
