"""TLS refusals counted: a server SSL context whose failed handshakes increment a counter.

Python's ssl and asyncio (and uvloop) report a refused handshake (no client certificate, one
from another CA, plain HTTP to an HTTPS port, an old protocol) to nobody: the connection just
closes. Every SSLObject a context makes goes through ``do_handshake``, so giving the context an
``sslobject_class`` that counts the SSLErrors raised there counts each refusal once, on the
listener that refused it, at no cost to the handshakes that succeed.

gRPC servers cannot be counted this way: grpc's C core does their handshakes and offers no hook
(see README, "Differences from upstream").
"""

from __future__ import annotations

import ssl
from typing import Protocol

from lgr.core.metrics import Registry

METRIC = "tls_handshake_failures"
HELP = "TLS handshakes refused (no or untrusted client certificate, not TLS, bad protocol)"


class _Incrementable(Protocol):
    def inc(self, n: float = 1) -> None: ...


def count_handshake_failures(context: ssl.SSLContext, failures: _Incrementable) -> ssl.SSLContext:
    """Make ``context`` count each handshake that fails with an SSLError in ``failures``."""

    class CountedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise  # not a failure: the handshake needs more bytes
            except ssl.SSLError:
                failures.inc()
                raise

    context.sslobject_class = CountedSSLObject
    return context


def counted(context: ssl.SSLContext | None, registry: Registry, listener: str) -> ssl.SSLContext | None:
    """``context`` counting refusals in ``registry``'s ``tls_handshake_failures{listener=...}``
    (``listener`` names the port: "metrics", "https"); None stays None."""
    if context is None:
        return None
    return count_handshake_failures(context, registry.counter(METRIC, HELP, {"listener": listener}))
