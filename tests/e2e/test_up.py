"""`lgr up` as a new user runs it: start, tail, emit, a refused second `lgr up`, Ctrl-C, a dying child;
the rlp gateway, traffic controller and log cache it starts, read with the admin token it mints.

Each test gets its own LGR_STATE_DIR (so certificates are made on first run, as for a new user)
and free ports, so a developer's own `lgr up` on the default ports is never disturbed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from lgr.core import envelope
from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.logcache.v1 import egress_pb2, egress_pb2_grpc
from lgr.core.errors import ExitCode
from lgr.core.up_state import pid_alive
from tests.conftest import wait_until
from tests.e2e.helpers import Emitter, Metrics, channel

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


ANY_PORT = [*(flag for name in ("agent", "udp", "router", "rlp", "gateway", "tc", "cache")
              for flag in (f"--{name}-port", "0")), "--free-metrics-ports"]


def _port_of(address: str) -> int:
    return int(address.rpartition(":")[2])


def test_up_then_tail_shows_what_emit_sends_and_ctrl_c_stops_everything(
    env: dict[str, str], tmp_path: Path, procs: list
) -> None:
    # Port 0 everywhere: each component binds a free port itself and `lgr up` reports it (a port
    # picked here and bound later by the subprocess could be taken in between on a busy machine).
    up, up_out = _start(procs, ["up", "--json", *ANY_PORT], env, tmp_path, "up")
    state = json.loads(up_out.wait_for(r"^\{.*\}$").group(0))
    assert [c["name"] for c in state["components"]] == ["router", "agent", "rlp", "gateway", "cache", "tc"]
    for key, scheme in (("agent_addr", ""), ("rlp_addr", ""), ("gateway_addr", "https://"),
                        ("tc_addr", "ws://"), ("cache_addr", "http://")):
        assert re.fullmatch(rf"{scheme}127\.0\.0\.1:[1-9][0-9]*", state[key]), (key, state[key])
    assert [_port_of(a) > 0 for a in state["router_addrs"]] == [True]
    metrics_ports = {_port_of(c["metrics_url"].split("/metrics")[0]) for c in state["components"]}
    assert len(metrics_ports) == 6 and not metrics_ports & {14824, 14825, 14826, 14827, 14828, 6060}
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
    before = router.value("subscriptions")  # the log cache's nozzle
    wait_until(lambda: router.value("subscriptions") == before + 1, timeout=20, interval=0.05)
    emit = subprocess.run([*LGR, "emit", "log", "hi"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert emit.returncode == 0, emit.stderr
    line = tail_out.wait_for(r"\bhi$", timeout=20).string
    assert re.fullmatch(r" *\S+ \[[^\]]+\] OUT hi", line), line  # cf tail's format

    second = subprocess.run([*LGR, "up", *ANY_PORT], env=env, capture_output=True, text=True,
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
    up, up_out = _start(procs, ["up", "--routers", "2", *ANY_PORT], env, tmp_path, "up")
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
        args = list(ANY_PORT)
        args[args.index("--router-port") + 1] = str(port)
        proc = subprocess.run([*LGR, "up", *args], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.UNAVAILABLE
    assert f"port {port}/tcp on 127.0.0.1 is in use (wanted for the router)" in proc.stderr
    assert not (Path(env["LGR_STATE_DIR"]) / "up.json").exists()


class Pump:
    """Sends one log envelope from ``source_id`` to the agent every 50 ms until closed, so a
    consumer that subscribes at any moment soon receives one."""

    def __init__(self, emitter: Emitter, source_id: str, payload: str) -> None:
        self.emitter, self.source_id, self.payload = emitter, source_id, payload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.emitter.send([envelope.log(self.payload, source_id=self.source_id)])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _sse_payloads(client: httpx.Client, url: str, token: str, want: str) -> bool:
    """True once the gateway's SSE stream at ``url`` carries a log with payload ``want``."""
    deadline = time.monotonic() + 20
    with client.stream("GET", url, headers={"Authorization": f"bearer {token}"}) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            assert time.monotonic() < deadline, "no matching SSE batch within 20s"
            if not line.startswith("data:"):
                continue
            for env in json.loads(line[5:])["batch"]:
                if base64.b64decode(env.get("log", {}).get("payload", "")).decode() == want:
                    return True
    return False


def _ws_log(url: str, token: str, want: str) -> v1.Envelope:
    """The first v1 LogMessage frame with ``want`` on the firehose websocket at ``url``."""
    deadline = time.monotonic() + 20
    with connect(url, additional_headers={"Authorization": f"bearer {token}"}, open_timeout=10) as ws:
        while True:
            frame = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            assert isinstance(frame, bytes), "frames are binary"
            env = v1.Envelope.FromString(frame)
            if env.HasField("logMessage") and env.logMessage.message == want.encode():
                return env


def test_up_runs_gateway_tc_and_cache_with_an_admin_token(
    env: dict[str, str], tmp_path: Path, procs: list
) -> None:
    up, up_out = _start(procs, ["up", "--json", *ANY_PORT], env, tmp_path, "up")
    state = json.loads(up_out.wait_for(r"^\{.*\}$", timeout=60).group(0))
    comps = state["components"]
    assert [c["kind"] for c in comps] == ["router", "agent", "rlp", "gateway", "cache", "tc"]
    state_dir = Path(env["LGR_STATE_DIR"])
    certs = state_dir / "certs"
    files = (certs / "ca.crt", certs / "client.crt", certs / "client.key")
    for c in comps:  # the dashboard scrapes every component
        assert Metrics(c["metrics_url"], files).text(), c["name"]
    assert state["gateway_addr"].startswith("https://127.0.0.1:")
    assert state["tc_addr"].startswith("ws://127.0.0.1:")
    assert state["cache_addr"].startswith("http://127.0.0.1:")
    token_file = Path(state["token_file"])
    assert token_file == state_dir / "admin.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text()
    assert state["tokens_file"] == str(state_dir / "tokens.json")

    # An app that logged before anyone read: `lgr tail -n 5` shows its last five lines.
    app = f"app-{uuid.uuid4()}"
    emitter = Emitter(state["agent_addr"], files)
    now = time.time_ns()
    emitter.send([envelope.log(f"old-{i}", source_id=app, timestamp=now + i) for i in range(1, 8)])
    auth = {"Authorization": f"bearer {token}"}
    read_url = f"{state['cache_addr']}/api/v1/read/{app}"

    def cached() -> int:
        return len(httpx.get(read_url, headers=auth, timeout=5).json()["envelopes"].get("batch", []))

    wait_until(lambda: cached() == 7, timeout=20, interval=0.1)
    # The same history over the cache's gRPC API (upstream's logcache.v1), mTLS as "log-cache".
    assert state["cache_grpc_addr"].startswith("127.0.0.1:")
    with channel(state["cache_grpc_addr"], files, "log-cache") as grpc_channel:
        read = egress_pb2_grpc.EgressStub(grpc_channel).Read(
            egress_pb2.ReadRequest(source_id=app, limit=3, descending=True), timeout=10)
    assert [e.log.payload for e in read.envelopes.batch] == [b"old-7", b"old-6", b"old-5"]
    assert httpx.get(read_url, headers={"Authorization": "bearer nope"}, timeout=5).status_code == 404
    tail = subprocess.run([*LGR, "tail", "-n", "5", app], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert tail.returncode == 0, tail.stderr
    assert re.findall(r" OUT (old-\d)$", tail.stdout, re.MULTILINE) == [f"old-{i}" for i in range(3, 8)]

    # Live envelopes through the gateway (SSE) and the traffic controller (v1 websocket frames).
    pumped = f"pumped-{uuid.uuid4()}"
    pump = Pump(emitter, app, pumped)
    try:
        context = ssl.create_default_context(cafile=str(files[0]))
        with httpx.Client(verify=context, timeout=10) as client:
            read = f"{state['gateway_addr']}/v2/read?log&source_id={app}"
            assert client.get(read, headers={"Authorization": "bearer nope"}).status_code == 404
            assert _sse_payloads(client, read, token, pumped)
        frame = _ws_log(f"{state['tc_addr']}/firehose/up-test-{uuid.uuid4()}", token, pumped)
        assert frame.logMessage.app_id == app
    finally:
        pump.close()
        emitter.close()

    second = subprocess.run([*LGR, "up", *ANY_PORT], env=env, capture_output=True, text=True, timeout=30,
                            check=False)
    assert second.returncode == ExitCode.ALREADY_RUNNING
    pids = [c["pid"] for c in comps]
    up.send_signal(signal.SIGINT)
    assert up.wait(30) == 0
    assert not any(pid_alive(p) for p in pids)
    assert not (state_dir / "up.json").exists()
    assert token_file.read_text() == token, "the token stays for the next `lgr up`"
