"""Where lgr keeps per-user state: the state directory and the certificates inside it.

The state directory is ``$LGR_STATE_DIR`` when set, else ``$XDG_STATE_HOME/lgr``, else
``~/.local/state/lgr``. Nothing here creates directories; callers create what they write into.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from lgr.core.errors import StateDirError

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


@contextlib.contextmanager
def writing(path: str | os.PathLike[str], hint: str | None = None) -> Iterator[None]:
    """Turn an OSError while creating or writing ``path`` into one StateDirError naming it.

    The default hint names the state directory's variable; pass another (e.g. "choose a
    writable --file") where the path came from a flag.
    """
    try:
        yield
    except OSError as exc:
        if hint is None:
            hint = f"make it writable, or point {STATE_DIR_ENV} at a writable directory"
        raise StateDirError(f"cannot write {path}: {exc.strerror or exc}", hint) from exc
