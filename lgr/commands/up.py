"""`lgr up`: run the whole system on loopback, making certificates on first run."""

from __future__ import annotations

from lgr.core.errors import NotBuiltError


def command() -> None:
    """Run certs, agent, router, rlp, gateway and traffic controller on loopback (not built yet)."""
    raise NotBuiltError(
        "lgr up",
        hint="it starts the components together, so it lands after `lgr <component> start`",
    )
