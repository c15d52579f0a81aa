"""Connection status: where the dashboard's stream stands (connecting, connected, retrying, ...).

The feed runner writes it; the UI shows it. ``message`` is one line a person can act on, such as
"cannot reach the reverse log proxy at 127.0.0.1:8083: connection refused; retrying in 2.0s".
"""

from __future__ import annotations

from dataclasses import dataclass

CONNECTING = "connecting"
CONNECTED = "connected"
RETRYING = "retrying"
STOPPED = "stopped"
INJECTED = "injected"  # no connection: envelopes are handed to the feed directly (tests, replays)


@dataclass(frozen=True)
class ConnectionStatus:
    """``state`` (one of the constants above), a one-line ``message``, and ``since`` (Unix
    seconds: when this state began), and ``attempt`` (retries in the current outage)."""

    state: str
    message: str = ""
    since: float = 0.0
    attempt: int = 0

    @property
    def ok(self) -> bool:
        return self.state in (CONNECTED, INJECTED)
