"""`lgr tail`: stream envelopes from the reverse log proxy and print them."""

from __future__ import annotations

from lgr.core.errors import NotBuiltError


def command() -> None:
    """Stream envelopes from the reverse log proxy and print them (not built yet)."""
    raise NotBuiltError(
        "lgr tail",
        hint="any loggregator-api v2 client can read the reverse log proxy's Egress service",
    )
