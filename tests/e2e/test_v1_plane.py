"""The v1 (dropsonde) plane end to end, as real processes: UDP → agent → router → traffic
controller websockets (and the rlp for v2 readers).

A v1 event of each of the six types, every field set (a LogMessage timestamp other than the
envelope's, a source_id tag other than the app id), reaches the firehose and the app stream
byte for byte as it was sent, and the rlp as ToV2(env, true); a v2 envelope reaches the
controller as ToV1 of it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

from lgr.core import envelope
from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.conversion import to_v1, to_v2
from lgr.core.probe import split_address
from lgr.core.stack import Stack, StackConfig
from tests.conftest import PKI, wait_until
from tests.core.apps.tc_support import make_tokens
from tests.core.apps.v1_support import APP_ID, every_v1_kind
from tests.e2e.conftest import AGENT_ENV
from tests.e2e.helpers import Consumer, Emitter, Metrics, all_kinds

pytestmark = pytest.mark.e2e

AGENT_TAGS = dict(kv.split(":") for kv in AGENT_ENV["AGENT_TAGS"].split(","))


class Frames:
    """A websocket opened and read in a thread, keeping its binary frames."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.frames: list[bytes] = []
        self._conn: ClientConnection | None = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()
        if not self._opened.wait(10) or self._conn is None:
            raise AssertionError(f"{url}: the websocket did not open")

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with connect(url, additional_headers=headers) as conn:
                self._conn = conn
                self._opened.set()
                for message in conn:
                    if isinstance(message, bytes):
                        self.frames.append(message)
        except Exception:  # noqa: BLE001 - closed at the end of the test, or failed to open
            self._opened.set()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._thread.join(5)


@pytest.fixture
def stack(pki: PKI, tmp_path: Path) -> Iterator[tuple[Stack, str]]:
    tokens = make_tokens(tmp_path)
    s = Stack(StackConfig(
        certs_dir=pki.dir, log_dir=tmp_path / "logs", router_port=0, agent_port=0, udp_port=0,
        rlp_port=0, agent_metrics_port=0, router_metrics_port=0, rlp_metrics_port=0, tc=True,
        tc_port=0, tc_metrics_port=0, tokens_file=tokens.path,
        extra_env={"agent": dict(AGENT_ENV)}, ready_timeout=30))
    try:
        s.start()
        yield s, tokens.admin
    finally:
        s.stop(grace=5)


def test_v1_events_reach_the_tc_byte_identical_and_the_rlp_as_to_v2(pki: PKI, stack) -> None:
    s, token = stack
    files = pki.files("client")
    tc = s.of_kind("tc")[0]
    router = s.of_kind("router")[0]
    agent = s.of_kind("agent")[0]
    headers = {"Authorization": f"bearer {token}"}
    firehose = Frames(f"{tc.url}/firehose/v1-e2e", headers)
    app = Frames(f"{tc.url}/apps/{APP_ID}/stream", headers)
    sent = [env.SerializeToString() for env in every_v1_kind()]
    v2_sources = sorted({to_v2(env, True).source_id for env in every_v1_kind()} | {"v2-app"})
    consumer = Consumer(s.of_kind("rlp")[0].address, files,
                        [sel for src in v2_sources for sel in all_kinds(src)], "", False, True)
    try:
        router_metrics = Metrics(router.metrics_url, files)
        # Two websockets (v1), the controller's recent-logs store and the rlp consumer (v2).
        wait_until(lambda: router_metrics.value("subscriptions") == 4, timeout=15, interval=0.05)
        host, port = split_address(agent.udp_address)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for data in sent:
                sock.sendto(data, (host, port))
        wait_until(lambda: len(firehose.frames) >= 6 and len(app.frames) >= 3, timeout=15)
        assert sorted(firehose.frames) == sorted(sent)
        # The app's: its LogMessage, its HttpStartStop (applicationId) and its ContainerMetric.
        ours = {v1.Envelope.LogMessage, v1.Envelope.HttpStartStop, v1.Envelope.ContainerMetric}
        assert sorted(app.frames) == sorted(
            d for d in sent if v1.Envelope.FromString(d).eventType in ours)
        wait_until(lambda: len(consumer.received()) >= 6, timeout=15)
        key = envelope_pb2.Envelope.SerializeToString
        want = [to_v2(v1.Envelope.FromString(d), True) for d in sent]
        assert sorted(consumer.received(), key=lambda e: e.timestamp) == sorted(
            want, key=lambda e: e.timestamp)
        assert len({key(e, deterministic=True) for e in consumer.received()}) == 6

        # A v2 envelope, tagged by the agent (AGENT_TAGS), reaches the controller as its ToV1.
        emitted = envelope.log("from v2", source_id="v2-app", instance_id="1",
                               tags={"k": "v"}, timestamp=1_700_000_000_000_000_777)
        emitter = Emitter(agent.address, files)
        try:
            emitter.send([emitted])
        finally:
            emitter.close()
        wait_until(lambda: len(firehose.frames) >= 7, timeout=15)
        tagged = envelope_pb2.Envelope()
        tagged.CopyFrom(emitted)
        for k, v in AGENT_TAGS.items():
            tagged.tags.setdefault(k, v)
        (expected,) = to_v1(tagged)
        assert v1.Envelope.FromString(firehose.frames[6]) == expected
        assert len(app.frames) == 3
    finally:
        consumer.close()
        firehose.close()
        app.close()
