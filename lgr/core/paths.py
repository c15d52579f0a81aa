"""Where lgr keeps per-user state: the state directory and the certificates inside it.

The state directory is ``$LGR_STATE_DIR`` when set, else ``$XDG_STATE_HOME/lgr``, else
``~/.local/state/lgr``. Nothing here creates directories; callers create what they write into.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

STATE_DIR_ENV = "LGR_STATE_DIR"
XDG_STATE_HOME_ENV = "XDG_STATE_HOME"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return lgr's state directory, honouring LGR_STATE_DIR, then XDG_STATE_HOME."""
    env = os.environ if env is None else env
    override = env.get(STATE_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    xdg = env.get(XDG_STATE_HOME_ENV, "").strip()
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "lgr"
    return Path.home() / ".local" / "state" / "lgr"


def certs_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the default directory for the CA and component certificates."""
    return state_dir(env) / "certs"
