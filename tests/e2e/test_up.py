"""`lgr up` as a new user runs it: start, tail, emit, a refused second `lgr up`, Ctrl-C, a dying child.

Each test gets its own LGR_STATE_DIR (so certificates are made on first run, as for a new user)
and free ports, so a developer's own `lgr up` on the default ports is never disturbed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lgr.core.errors import ExitCode
from lgr.core.probe import free_port
from lgr.core.up_state import pid_alive
from tests.conftest import wait_until
from tests.e2e.helpers import Metrics

pytestmark = pytest.mark.e2e

LGR = [sys.executable, "-m", "lgr"]
CLIENT_ENV = ("LGR_AGENT_ADDR", "LGR_RLP_ADDR", "LGR_CA_FILE", "LGR_CERT_FILE", "LGR_KEY_FILE")


class Lines:
    """Reads a process's stdout lines on a thread, so every wait for output can be bounded."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        found: list[re.Match[str]] = []

        def seen() -> bool:
            for line in self.lines:
                m = re.search(pattern, line)
                if m:
                    found.append(m)
                    return True
            assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.lines}"
            return False

        wait_until(seen, timeout=timeout, interval=0.05)
        return found[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV and k != "LGR_DEBUG"}
    base.update(LGR_STATE_DIR=str(tmp_path / "state"), COLUMNS="200", NO_COLOR="1")
    return base


@pytest.fixture
def procs():
    """Every process a test starts; killed at teardown if still running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def _start(procs: list, args: list[str], env: dict[str, str], tmp_path: Path, name: str):
    err = open(tmp_path / f"{name}.stderr", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([*LGR, *args], stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    procs.append(proc)
    return proc, Lines(proc)


def _ports() -> list[str]:
    return ["--agent-port", str(free_port()), "--udp-port", str(free_port(proto="udp")),
            "--router-port", str(free_port()), "--rlp-port", str(free_port())]


def test_up_then_tail_shows_what_emit_sends_and_ctrl_c_stops_everything(
    env: dict[str, str], tmp_path: Path, procs: list
) -> None:
    ports = _ports()
    up, up_out = _start(procs, ["up", "--json", *ports], env, tmp_path, "up")
    state = json.loads(up_out.wait_for(r"^\{.*\}$").group(0))
    assert [c["name"] for c in state["components"]] == ["router", "agent", "rlp"]
    assert state["agent_addr"] == f"127.0.0.1:{ports[1]}"
    assert state["rlp_addr"] == f"127.0.0.1:{ports[7]}"
    assert state["router_addrs"] == [f"127.0.0.1:{ports[5]}"]
    pids = [c["pid"] for c in state["components"]]
    assert all(pid_alive(p) for p in pids)
    state_dir = Path(env["LGR_STATE_DIR"])
    assert json.loads((state_dir / "up.json").read_text())["pid"] == up.pid
    assert (state_dir / "certs" / "client.crt").exists(), "certificates are made on first run"

    # The client commands exactly as `lgr up` tells the user to run them: they find the stack
    # (addresses and certificates) through up.json.
    tail, tail_out = _start(procs, ["tail"], env, tmp_path, "tail")
    certs = state_dir / "certs"
    router = Metrics(state["components"][0]["metrics_url"],
                     (certs / "ca.crt", certs / "client.crt", certs / "client.key"))
    wait_until(lambda: router.value("subscriptions") == 1, timeout=20, interval=0.05)
    emit = subprocess.run([*LGR, "emit", "log", "hi"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert emit.returncode == 0, emit.stderr
    line = tail_out.wait_for(r"\bhi$", timeout=20).string
    assert re.fullmatch(r" *\S+ \[[^\]]+\] OUT hi", line), line  # cf tail's format

    second = subprocess.run([*LGR, "up", *_ports()], env=env, capture_output=True, text=True,
                            timeout=30)
    assert second.returncode == ExitCode.ALREADY_RUNNING
    assert f"already running (pid {up.pid})" in second.stderr

    tail.send_signal(signal.SIGINT)
    up.send_signal(signal.SIGINT)
    assert up.wait(30) == 0
    assert not any(pid_alive(p) for p in pids)
    assert not (state_dir / "up.json").exists()
    tail.wait(10)


def test_up_stops_everything_and_fails_when_a_component_dies(
    env: dict[str, str], tmp_path: Path, procs: list
) -> None:
    up, up_out = _start(procs, ["up", "--routers", "2", *_ports()], env, tmp_path, "up")
    up_out.wait_for("Ctrl-C stops everything")
    table = "\n".join(up_out.lines)
    assert "router-1" in table and "router-2" in table and "lgr tail" in table
    state = json.loads((Path(env["LGR_STATE_DIR"]) / "up.json").read_text())
    pids = {c["name"]: c["pid"] for c in state["components"]}
    os.kill(pids["rlp"], signal.SIGKILL)
    assert up.wait(30) == ExitCode.COMPONENT_DIED
    stderr = (tmp_path / "up.stderr").read_text()
    assert f"rlp (pid {pids['rlp']}) was killed by SIGKILL" in stderr
    assert not any(pid_alive(p) for p in pids.values())


def test_up_names_a_port_in_use(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = _ports()
        args[args.index("--router-port") + 1] = str(port)
        proc = subprocess.run([*LGR, "up", *args], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.UNAVAILABLE
    assert f"port {port}/tcp on 127.0.0.1 is in use (wanted for the router)" in proc.stderr
    assert not (Path(env["LGR_STATE_DIR"]) / "up.json").exists()
