"""GatewayClient against a real gateway in front of a real RLP and router; the SSE decoder."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import ssl
import time
from urllib.parse import urlencode

import pytest

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.gateway.app import Gateway
from lgr.core.apps.gateway.query import build_selectors, parse_query
from lgr.core.clients.egress import egress_request
from lgr.core.clients.gateway import (
    GatewayClient,
    GatewayError,
    StreamInterrupted,
    StreamRenewed,
    StreamResumed,
    describe_event,
    read_params,
)
from lgr.core.clients.sse import EventTooLarge, SseDecoder
from lgr.core.errors import ExitCode, TLSConfigError, UnavailableError
from lgr.core.salvage import EnvelopesMalformed
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import TIMEOUT, channel, log_envelope, run, send
from tests.core.apps.gateway_support import gateway_stack
from tests.core.apps.test_router import every_kind


def client(stack, params, token, **kwargs) -> GatewayClient:
    context = ssl.create_default_context(cafile=str(stack.pki_ca))
    return GatewayClient(stack.gateway.url, params, token, context, **kwargs)


class Reading:
    """Iterates a client's batches in the background, keeping the envelopes and events."""

    def __init__(self, gw: GatewayClient) -> None:
        self.client = gw
        self.envelopes: list[envelope_pb2.Envelope] = []
        self.events: list[object] = []
        gw._on_event = self.events.append
        self.error: BaseException | None = None
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for batch in self.client.batches():
                self.envelopes.extend(batch)
        except Exception as exc:  # noqa: BLE001 - kept for the test to check
            self.error = exc

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def reading(gw: GatewayClient):
    r = Reading(gw)
    try:
        yield r
    finally:
        await r.stop()


async def first_error(gw: GatewayClient) -> BaseException:
    with pytest.raises(Exception) as info:
        async with asyncio.timeout(TIMEOUT):
            async for _ in gw.batches():
                pass
    return info.value


@contextlib.asynccontextmanager
async def stack_of(pki, tmp_path, **overrides):
    async with gateway_stack(pki, tmp_path, **overrides) as stack:
        stack.pki_ca = pki.ca
        yield stack


async def publish(pki, stack, envs) -> None:
    ingress = channel(pki, stack.router.address, "doppler", name="agent")
    await send(ingress, envs)
    await ingress.close()


def test_batches_decode_into_the_envelopes_sent_and_filters_reach_the_gateway(pki, tmp_path):
    async def body():
        async with stack_of(pki, tmp_path) as stack:
            every = client(stack, read_params(["app-1"]), stack.tokens.reader)
            logs = client(stack, read_params(["app-1"], ["log"]), stack.tokens.reader)
            async with reading(every) as all_kinds, reading(logs) as only_logs:
                await stack.subscribed(2)
                sent = every_kind("app-1") + [log_envelope(9, source_id="other")]
                await publish(pki, stack, sent)
                await async_wait_until(lambda: len(all_kinds.envelopes) == 5, timeout=TIMEOUT)
                await async_wait_until(lambda: len(only_logs.envelopes) == 1, timeout=TIMEOUT)
            got = sorted(all_kinds.envelopes, key=lambda e: e.timestamp)
            want = [envelope_pb2.Envelope() for _ in sent[:5]]
            for w, env in zip(want, sent[:5], strict=True):
                w.CopyFrom(env)
                w.ClearField("deprecated_tags")  # the rlp asks for preferred tags
            want[0].tags.update({"job": "cell", "index": "-7", "load": "1.5"})
            assert got == want
            assert only_logs.envelopes == [want[0]]
            assert every.received == 5 and every.reconnects == 0 and every.malformed == 0

    run(body())


def test_closing_renews_the_stream_at_once_and_heartbeats_are_counted(pki, tmp_path):
    async def body():
        async with stack_of(pki, tmp_path, heartbeat="0.1s", stream_timeout="0.6s") as stack:
            gw = client(stack, read_params([], ["log"]), stack.tokens.admin)
            async with reading(gw) as r:
                await async_wait_until(lambda: gw.renewals >= 2, timeout=TIMEOUT)
                # A renewed stream still delivers (an envelope sent between two streams is lost,
                # so keep sending until one arrives).
                deadline = time.monotonic() + TIMEOUT
                while not r.envelopes and time.monotonic() < deadline:
                    await publish(pki, stack, [log_envelope(1, "app-1")])
                    await asyncio.sleep(0.1)
                assert r.envelopes
            assert gw.heartbeats >= 1 and gw.reconnects == 0
            assert any(isinstance(e, StreamRenewed) for e in r.events)
            assert not any(isinstance(e, StreamInterrupted) for e in r.events)
            assert r.error is None

    run(body())


def test_a_restarted_gateway_is_reconnected_to(pki, tmp_path):
    async def body():
        async with stack_of(pki, tmp_path) as stack:
            gw = client(stack, read_params([], ["log"]), stack.tokens.admin, backoff=(0.05, 0.2))
            async with reading(gw) as r:
                await stack.subscribed(1)
                await stack.gateway.stop(0.5)
                await async_wait_until(lambda: gw.reconnects >= 1, timeout=TIMEOUT)
                again = Gateway(dataclasses.replace(stack.gateway.config,
                                                    gateway_addr=stack.gateway.address))
                await again.start()
                try:
                    await async_wait_until(lambda: any(isinstance(e, StreamResumed) for e in r.events),
                                           timeout=TIMEOUT)
                    await stack.subscribed(1)
                    await publish(pki, stack, [log_envelope(1, "app-1")])
                    await async_wait_until(lambda: len(r.envelopes) == 1, timeout=TIMEOUT)
                finally:
                    await again.stop(0.5)
            assert r.error is None

    run(body())


@pytest.mark.parametrize(("case", "params", "status", "words"), [
    ("no token", read_params([], ["log"]), 404, "needs a token"),
    ("unknown token", read_params([], ["log"]), 404, "refused the token"),
    ("reader of the firehose", read_params([], ["log"]), 404, "refused the token"),
    ("reader of a source not granted", read_params(["app-2"], ["log"]), 404, "refused the token"),
    ("no envelope type", [("source_id", "app-1")], 400,
     "query must provide at least one envelope type (missing_envelope_type)"),
])
def test_refusals_end_the_stream_with_a_clear_error(pki, tmp_path, case, params, status, words):
    async def body():
        async with stack_of(pki, tmp_path) as stack:
            token = {"no token": "", "unknown token": "lgr_nope"}.get(case, stack.tokens.reader)
            err = await first_error(client(stack, params, token))
            assert isinstance(err, GatewayError), err
            assert err.status == status and words in err.message
            assert err.exit_code == (ExitCode.USAGE if status == 400 else ExitCode.UNAVAILABLE)
            assert (err.hint and "--token") if status == 404 else True

    run(body())


def test_an_unreachable_gateway_and_an_untrusted_certificate_are_errors(pki, tmp_path):
    async def body():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        gw = GatewayClient(f"https://127.0.0.1:{port}", read_params([], ["log"]), "t",
                           ssl.create_default_context(cafile=str(pki.ca)), connect_timeout=0.3)
        started = time.monotonic()
        err = await first_error(gw)
        assert isinstance(err, UnavailableError) and "cannot reach the rlp gateway" in err.message
        assert time.monotonic() - started < TIMEOUT
        async with stack_of(pki, tmp_path) as stack:
            rogue = GatewayClient(stack.gateway.url, read_params([], ["log"]), stack.tokens.admin,
                                  ssl.create_default_context(cafile=str(pki.rogue.ca)))
            err = await first_error(rogue)
            assert isinstance(err, TLSConfigError) and "LGR_CA_FILE" in err.hint

    run(body())


@pytest.mark.parametrize(("sources", "kinds", "names"), [
    ([], [], {}),
    (["a", "b"], ["log", "event"], {}),
    (["a"], ["counter", "gauge", "timer"], {"counter_name": "req", "gauge_names": ["cpu", "mem"]}),
    ([], [], {"counter_name": "req"}),
    (["a"], [], {"gauge_names": ["cpu"]}),
])
def test_read_params_select_what_the_same_rlp_request_selects(sources, kinds, names):
    params = read_params(sources, kinds, shard_id="g", **names)
    query = parse_query(urlencode(params))
    want = egress_request(sources, kinds, shard_id="g", **names)
    assert list(build_selectors(query)) == list(want.selectors)
    assert query["shard_id"] == ["g"]


def test_the_sse_decoder_splits_any_chunking_the_same_way():
    data = (b"event: heartbeat\r\ndata: 12\r\n\r\n: a comment\ndata: {\"a\":1}\n\n"
            b"data:x\ndata: y\r\rid: 3\nevent: closing\ndata: bye\n\nevent: empty\n\n")
    want = [("heartbeat", "12"), ("", '{"a":1}'), ("", "x\ny"), ("closing", "bye")]
    assert list(SseDecoder().feed(data)) == want
    for size in (1, 2, 3, 7):
        decoder, got = SseDecoder(), []
        for i in range(0, len(data), size):
            got += list(decoder.feed(data[i:i + size]))
        assert got == want, size
    with pytest.raises(EventTooLarge):
        list(SseDecoder(max_event_bytes=10).feed(b"data: " + b"x" * 20))


def test_a_data_event_that_is_not_a_batch_is_skipped_and_reported():
    events: list[object] = []
    client = GatewayClient("https://127.0.0.1:1", [], "token", on_event=events.append)
    assert client._handle("", "{not json") == []
    assert client._handle("", '{"batch":[{"source_id":"a","log":{"payload":"aGk="}}]}')[0].source_id == "a"
    assert client.malformed == 1
    assert events == [EnvelopesMalformed(1, 1)]
    line = describe_event(events[0], client.url)
    assert line.startswith("skipped 1 data events from the rlp gateway at https://127.0.0.1:1")
