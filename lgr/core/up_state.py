"""Up state: the lock that lets one `lgr up` run per state directory, and the file describing its stack.

``up.lock`` in the state directory is held with ``flock`` for as long as `lgr up` runs and holds its
pid, so a second `lgr up` can name the one already running; the kernel drops the lock when the
process dies, so a crash never leaves a stale lock. ``up.json`` describes the running stack (pids,
addresses, metrics URLs, certificate and log directories, start time) for clients and
`lgr dashboard`; it is written atomically once every component is healthy and removed on stop.
:func:`read_state` ignores a file whose `lgr up` process is gone.

Besides the components, ``up.json`` has keys for quick lookups: ``agent_addr``, ``rlp_addr`` and
``router_addrs`` (gRPC host:port), ``gateway_addr`` (``https://...``), ``tc_addr`` (``ws://`` or
``wss://``), ``cache_addr`` (``http://...``) and ``cache_grpc_addr`` (the log cache's gRPC API,
host:port), each null when that component is not running;
``token_file`` (the admin token `lgr up` minted for the local user) and ``tokens_file`` (the
tokens file the gateway, traffic controller and log cache check tokens against).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lgr.core.errors import ExitCode, LgrError
from lgr.core.paths import writing

LOCK_NAME = "up.lock"
STATE_NAME = "up.json"
STATE_VERSION = 1

try:  # flock is POSIX-only; without it the lock is advisory by pid alone
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class AlreadyRunningError(LgrError):
    """Another `lgr up` holds the lock of this state directory."""

    exit_code = ExitCode.ALREADY_RUNNING

    def __init__(self, pid: int | None, directory: Path) -> None:
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(
            f"lgr up is already running ({who}) with state directory {directory}",
            hint=(f"stop it with Ctrl-C in its terminal or `kill {pid}`; " if pid else "stop it first; ")
            + "or run another stack with a different LGR_STATE_DIR and ports",
        )
        self.pid = pid
        self.directory = directory


class UpLock:
    """The exclusive lock of one state directory; ``acquire()`` raises AlreadyRunningError when held."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write our pid into it; raise AlreadyRunningError if another holds it."""
        if self._fd is not None:
            return
        with writing(self.path):
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise AlreadyRunningError(holder_pid(self.directory), self.directory) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays; only the flock matters."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> UpLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def holder_pid(directory: str | os.PathLike[str]) -> int | None:
    """The pid written in the lock file, or None when absent or unreadable."""
    try:
        text = (Path(directory) / LOCK_NAME).read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class ComponentState:
    """One running component: name (``router-2``), kind (``router``), host:port, pid, metrics URL.

    ``url`` is how HTTP and websocket clients reach it (``https://``, ``ws://``, ``http://``);
    empty for the gRPC-only agent, routers and rlp.
    """

    name: str
    kind: str
    address: str
    pid: int
    metrics_url: str = ""
    log: str = ""
    udp_address: str = ""
    url: str = ""
    grpc_address: str = ""  # the log cache's gRPC API


@dataclass(frozen=True)
class UpState:
    """What `lgr up` is running: its own pid, its components, and where its files are."""

    pid: int
    started_at: str
    state_dir: str
    certs_dir: str
    log_dir: str
    components: list[ComponentState] = field(default_factory=list)
    version: int = STATE_VERSION
    token_file: str = ""
    tokens_file: str = ""

    def of_kind(self, kind: str) -> list[ComponentState]:
        """The components of ``kind`` (agent, router, rlp), in start order."""
        return [c for c in self.components if c.kind == kind]

    def address_of(self, kind: str) -> str | None:
        """The gRPC address of the first component of ``kind``, or None."""
        found = self.of_kind(kind)
        return found[0].address if found else None

    def url_of(self, kind: str) -> str | None:
        """The client URL of the first component of ``kind`` (gateway, tc, cache), or None."""
        found = self.of_kind(kind)
        return (found[0].url or None) if found else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, with the quick-lookup keys the module docstring lists."""
        data = asdict(self)
        data["agent_addr"] = self.address_of("agent")
        data["rlp_addr"] = self.address_of("rlp")
        data["router_addrs"] = [c.address for c in self.of_kind("router")]
        data["gateway_addr"] = self.url_of("gateway")
        data["tc_addr"] = self.url_of("tc")
        data["cache_addr"] = self.url_of("cache")
        caches = self.of_kind("cache")
        data["cache_grpc_addr"] = (caches[0].grpc_address or None) if caches else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpState:
        """Build from :meth:`to_json`'s dict; unknown keys are ignored."""
        known = {f.name for f in ComponentState.__dataclass_fields__.values()}
        comps = [ComponentState(**{k: v for k, v in c.items() if k in known}) for c in data["components"]]
        return cls(
            pid=int(data["pid"]),
            started_at=str(data["started_at"]),
            state_dir=str(data["state_dir"]),
            certs_dir=str(data["certs_dir"]),
            log_dir=str(data["log_dir"]),
            components=comps,
            version=int(data.get("version", STATE_VERSION)),
            token_file=str(data.get("token_file") or ""),
            tokens_file=str(data.get("tokens_file") or ""),
        )


def now_iso() -> str:
    """The current UTC time as ISO 8601, as ``started_at`` records it."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def write_state(directory: str | os.PathLike[str], state: UpState) -> Path:
    """Write ``up.json`` atomically (a reader never sees half a file); return its path."""
    directory = Path(directory)
    path = directory / STATE_NAME
    tmp = directory / f".{STATE_NAME}.{os.getpid()}.tmp"
    with writing(path):
        directory.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
        os.replace(tmp, path)
    return path


def read_state(directory: str | os.PathLike[str]) -> UpState | None:
    """The running stack's state, or None when no `lgr up` is running for ``directory``."""
    try:
        data = json.loads((Path(directory) / STATE_NAME).read_text())
        state = UpState.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if pid_alive(state.pid) else None


def remove_state(directory: str | os.PathLike[str]) -> None:
    """Delete ``up.json`` if present."""
    try:
        (Path(directory) / STATE_NAME).unlink()
    except FileNotFoundError:
        pass


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists (zombies included)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
