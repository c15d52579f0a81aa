"""`lgr dashboard`: watch the firehose and each component's metrics in a terminal UI."""

from __future__ import annotations

from lgr.core.errors import NotBuiltError


def command() -> None:
    """Watch the firehose and each component's metrics in a terminal UI (not built yet)."""
    raise NotBuiltError(
        "lgr dashboard",
        hint="it reads the components' metrics, so it lands after `lgr <component> start`",
    )
