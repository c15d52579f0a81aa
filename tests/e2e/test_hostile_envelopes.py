"""Issue 10 as an attacker or an unlucky operator would try it, against a real `lgr up`:

- finding 1: a client with a CA-signed certificate (the consumers' client.crt) sends the router an
  EnvelopeBatch holding the poison envelope (tag value b"\\xff\\xfe") among good ones. The router
  refuses it with INVALID_ARGUMENT naming the field and counts it in ``malformed``; nothing dies:
  `lgr up` and every component keep running, the log cache's nozzle keeps reading, `lgr tail`
  keeps streaming and gateway SSE clients keep receiving the envelopes sent afterwards.
- finding 3: one v1 datagram whose origin is not UTF-8 followed by 20 valid ones: all 21 are
  delivered (the bad origin converted with U+FFFD, as upstream accepts it) and counted.
"""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from lgr.core import envelope
from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.events import log_pb2
from lgr.core.grpc_server import identity
from lgr.core.probe import free_port
from lgr.core.up_state import pid_alive
from tests.conftest import wait_until
from tests.e2e.helpers import Emitter, Metrics, channel
from tests.e2e.test_up import ANY_PORT, CLIENT_ENV, LGR, Lines
from tests.poison import poison_tag_envelope

pytestmark = pytest.mark.e2e


class Up:
    """A running `lgr up` (own state dir, free ports) and what a client needs to reach it."""

    def __init__(self, tmp: Path) -> None:
        import os

        self.env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV and k != "LGR_DEBUG"}
        self.env.update(LGR_STATE_DIR=str(tmp / "state"), COLUMNS="200", NO_COLOR="1")
        self.tmp = tmp
        self.procs: list[subprocess.Popen[str]] = []
        self.udp_port = free_port(proto="udp")
        i = ANY_PORT.index("--udp-port")
        ports = [*ANY_PORT[:i], *ANY_PORT[i + 2:], "--udp-port", str(self.udp_port)]
        args = ["up", "--json", *ports]
        # Metrics ports are chosen at start; another stack on this machine may take one between
        # the check and the bind, which ends `lgr up` at once: then it is simply started again.
        for attempt in range(3):
            self.proc, self.out = self.start(args, f"up-{attempt}")
            try:
                self.state = json.loads(self.out.wait_for(r"^\{.*\}$", timeout=90).group(0))
                break
            except AssertionError:
                if self.proc.poll() is None or attempt == 2:
                    raise
        certs = Path(self.env["LGR_STATE_DIR"]) / "certs"
        self.files = (certs / "ca.crt", certs / "client.crt", certs / "client.key")
        self.token = Path(self.state["token_file"]).read_text()

    def start(self, args: list[str], name: str) -> tuple[subprocess.Popen[str], Lines]:
        err = open(self.tmp / f"{name}.stderr", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([*LGR, *args], stdout=subprocess.PIPE, stderr=err, text=True,
                                env=self.env)
        self.procs.append(proc)
        return proc, Lines(proc)

    def metrics(self, kind: str) -> Metrics:
        (comp,) = [c for c in self.state["components"] if c["kind"] == kind]
        return Metrics(comp["metrics_url"], self.files)

    def all_alive(self) -> bool:
        return self.proc.poll() is None and all(pid_alive(c["pid"]) for c in self.state["components"])

    def cached(self, source_id: str) -> list[bytes]:
        import base64

        url = f"{self.state['cache_addr']}/api/v1/read/{source_id}?limit=1000"
        doc = httpx.get(url, headers={"Authorization": f"bearer {self.token}"}, timeout=5).json()
        return [base64.b64decode(e["log"]["payload"]) for e in doc["envelopes"].get("batch", [])
                if "log" in e]

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in reversed(self.procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    stack = Up(tmp_path_factory.mktemp("hostile"))
    try:
        yield stack
    finally:
        stack.close()


class SseReader:
    """Reads the gateway's /v2/read for ``source_id`` on a thread, keeping every log payload."""

    def __init__(self, up: Up, source_id: str) -> None:
        self.payloads: list[bytes] = []
        self.error: BaseException | None = None
        self._url = f"{up.state['gateway_addr']}/v2/read?log&source_id={source_id}"
        self._token = up.token
        self._context = ssl.create_default_context(cafile=str(up.files[0]))
        self._client = httpx.Client(verify=self._context, timeout=httpx.Timeout(10, read=60))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import base64

        try:
            with self._client.stream("GET", self._url,
                                     headers={"Authorization": f"bearer {self._token}"}) as resp:
                for line in resp.iter_lines():
                    if line.startswith("data:"):
                        for env in json.loads(line[5:])["batch"]:
                            self.payloads.append(base64.b64decode(env["log"]["payload"]))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def close(self) -> None:
        self._client.close()


def test_regression_issue10_finding1_the_poison_is_refused_and_nothing_dies(up: Up) -> None:
    app = f"app-{uuid.uuid4()}"
    router = up.metrics("router")
    before = router.value("malformed")
    tail, tail_out = up.start(["tail", app, "-f"], "tail")
    sse = SseReader(up, app)
    emitter = Emitter(up.state["agent_addr"], up.files)
    try:
        # Until both are subscribed, a steady trickle: each sees "ready" once it is in place.
        def ready() -> bool:
            emitter.send([envelope.log("ready", source_id=app)])
            return any(line.endswith(" OUT ready") for line in tail_out.lines) \
                and b"ready" in sse.payloads
        wait_until(ready, timeout=60, interval=0.2)

        good = [envelope.log(f"good {i}", source_id=app).SerializeToString() for i in range(3)]
        batch = envelope.join_batch([good[0], poison_tag_envelope(app), *good[1:]])
        with channel(up.state["router_addrs"][0], up.files, "doppler") as ch:
            send = ch.stream_unary("/loggregator.v2.Ingress/BatchSender",
                                   request_serializer=identity, response_deserializer=identity)
            with pytest.raises(grpc.RpcError) as refused:
                send(iter([batch]), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "tags['k'] value is not valid UTF-8" in refused.value.details()
        wait_until(lambda: router.value("malformed") == before + 4, timeout=10, interval=0.1)

        emitter.send([envelope.log(f"after {i}", source_id=app) for i in range(3)])
        after = [f"after {i}".encode() for i in range(3)]
        wait_until(lambda: all(p in up.cached(app) for p in after), timeout=30, interval=0.2)
        tail_out.wait_for(r" OUT after 2$", timeout=30)
        wait_until(lambda: all(p in sse.payloads for p in after), timeout=30, interval=0.1)
        assert sse.error is None
        # The refused batch was refused whole, as upstream: none of it reached a consumer.
        assert not any(p.startswith(b"good ") for p in up.cached(app) + sse.payloads)
        assert up.all_alive() and tail.poll() is None
        assert up.metrics("cache").value("malformed") == 0  # the router let nothing through
        assert up.metrics("cache").value("nozzle_err") == 0
    finally:
        emitter.close()
        sse.close()
        tail.send_signal(signal.SIGINT)
        tail.wait(10)


def _datagram(text: str, app: str, origin: bytes = b"rep") -> bytes:
    data = v1.Envelope(
        origin="ORIGIN", eventType=v1.Envelope.LogMessage, timestamp=time.time_ns(),
        logMessage=log_pb2.LogMessage(message=text.encode(), message_type=log_pb2.LogMessage.OUT,
                                      timestamp=time.time_ns(), app_id=app),
    ).SerializeToString()
    return data.replace(b"\x0a\x06ORIGIN", b"\x0a" + bytes([len(origin)]) + origin)


def test_regression_issue10_finding3_a_non_utf8_origin_loses_no_datagram(up: Up) -> None:
    app = f"app-{uuid.uuid4()}"
    agent = up.metrics("agent")
    ingress, malformed = agent.value("ingress", metric_version="1.0"), \
        agent.value("malformed", metric_version="1.0")
    datagrams = [_datagram("bad origin", app, origin=b"\xff\xfe")] + \
        [_datagram(f"udp {i}", app) for i in range(20)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in datagrams:
            sock.sendto(data, ("127.0.0.1", up.udp_port))
    want = {b"bad origin", *(f"udp {i}".encode() for i in range(20))}
    wait_until(lambda: set(up.cached(app)) == want, timeout=30, interval=0.2)
    assert agent.value("ingress", metric_version="1.0") == ingress + 21
    assert agent.value("malformed", metric_version="1.0") == malformed
    assert up.all_alive()
