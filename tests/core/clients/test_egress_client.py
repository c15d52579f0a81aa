"""Tests for lgr.core.clients.egress against a real mTLS BatchedReceiver server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import pytest

from lgr.core import drops, envelope, selectors, tls
from lgr.core.clients.egress import (
    EgressClient,
    EnvelopesDropped,
    StreamInterrupted,
    StreamResumed,
    describe_event,
    egress_request,
)
from lgr.core.errors import InvalidSelectorError, UnavailableError
from tests.core.clients.fakes import FakeEgress, serve

TIMEOUT = 20.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def log(i: int):
    return envelope.log(f"m{i}", source_id="app", timestamp=i)


def client_for(pki, port: int, request=None, **kwargs) -> EgressClient:
    creds = tls.client_credentials(*pki.files(kwargs.pop("cert", "client")))
    return EgressClient(f"127.0.0.1:{port}", creds, request or egress_request(), **kwargs)


async def take(client: EgressClient, n: int) -> list[int]:
    got = []
    async with contextlib.aclosing(client.envelopes()) as stream:
        async for env in stream:
            got.append(env.timestamp)
            if len(got) == n:
                return got
    return got


def kinds_of(request) -> list[tuple[str, str]]:
    return [(s.source_id, s.WhichOneof("Message")) for s in request.selectors]


def test_request_without_apps_is_the_whole_firehose():
    request = egress_request()
    assert kinds_of(request) == [("", k) for k in ("log", "counter", "gauge", "timer", "event")]
    assert request.use_preferred_tags is True
    assert selectors.validate(request) is not None


def test_request_selects_each_app_and_type():
    request = egress_request(["a", "b", "a"], ["log", "gauge"], gauge_names=["cpu", "mem"], shard_id="g")
    assert kinds_of(request) == [("a", "log"), ("a", "gauge"), ("b", "log"), ("b", "gauge")]
    assert list(request.selectors[1].gauge.names) == ["cpu", "mem"]
    assert request.shard_id == "g"


def test_name_filters_imply_their_types():
    request = egress_request(counter_name="requests", gauge_names=["cpu"])
    assert kinds_of(request) == [("", "counter"), ("", "gauge")]
    assert request.selectors[0].counter.name == "requests"


def test_request_rejects_an_unknown_type():
    with pytest.raises(ValueError, match="metric"):
        egress_request(kinds=["metric"])


def test_streams_envelopes_and_sends_the_request(pki):
    async def scenario():
        fake = FakeEgress([[[log(1), log(2)], [log(3)]]])
        async with serve(fake, pki, "rlp") as port:
            client = client_for(pki, port, egress_request(["app"], ["log"]))
            got = await take(client, 3)
        return fake, client, got

    fake, client, got = run(scenario())
    assert got == [1, 2, 3]
    assert client.received == 3
    assert kinds_of(fake.requests[0]) == [("app", "log")]


def test_reconnects_when_the_stream_ends_unavailable(pki):
    events = []

    async def scenario():
        fake = FakeEgress([[[log(1)], (grpc.StatusCode.UNAVAILABLE, "router gone")], [[log(2)]]])
        async with serve(fake, pki, "rlp") as port:
            client = client_for(pki, port, on_event=events.append, backoff=(0.01, 0.05))
            return await take(client, 2), client, fake

    got, client, fake = run(scenario())
    assert got == [1, 2]
    assert len(fake.requests) == 2 and fake.requests[0] == fake.requests[1]
    assert client.reconnects == 1
    interrupted, resumed = events
    assert interrupted == StreamInterrupted("UNAVAILABLE", "router gone", 1, 0.01)
    assert isinstance(resumed, StreamResumed)
    assert "router gone" in describe_event(interrupted, client.address)


def test_reconnects_when_the_rlp_restarts(pki):
    events = []

    async def scenario():
        async with serve(FakeEgress([[[log(1)]]]), pki, "rlp") as port:
            client = client_for(pki, port, on_event=events.append, backoff=(0.01, 0.05))
            stream = client.envelopes()
            first = await stream.__anext__()
        # The rlp is down now: the client keeps retrying until it comes back on the same port.
        pending = asyncio.ensure_future(stream.__anext__())
        while not any(e.attempt >= 2 for e in events if isinstance(e, StreamInterrupted)):
            await asyncio.sleep(0.01)
        async with serve(FakeEgress([[[log(2)]]]), pki, "rlp", port=port):
            second = await pending
            await stream.aclose()
        return first.timestamp, second.timestamp

    assert run(scenario()) == (1, 2)
    assert isinstance(events[0], StreamInterrupted) and events[0].code == "UNAVAILABLE"
    resumed = [e for e in events if isinstance(e, StreamResumed)]
    assert len(resumed) == 1 and resumed[0].outage > 0
    assert events[-1] is resumed[0]


def test_an_unreachable_rlp_fails_after_the_connect_timeout(pki):
    async def scenario():
        async with serve(FakeEgress(), pki, "rlp") as port:
            pass
        return await take(client_for(pki, port, connect_timeout=0.3), 1)

    with pytest.raises(UnavailableError) as info:
        run(scenario())
    assert "cannot reach the reverse log proxy" in info.value.message
    assert "LGR_RLP_ADDR" in (info.value.hint or "")


def test_a_refused_request_is_an_invalid_selector_error(pki):
    async def scenario():
        fake = FakeEgress([[(grpc.StatusCode.INVALID_ARGUMENT, "Selectors cannot be empty")]])
        async with serve(fake, pki, "rlp") as port:
            return await take(client_for(pki, port), 1)

    with pytest.raises(InvalidSelectorError, match="Selectors cannot be empty"):
        run(scenario())


def test_a_client_certificate_from_another_ca_fails_fast(pki):
    async def scenario():
        async with serve(FakeEgress(), pki, "rlp") as port:
            creds = tls.client_credentials(*pki.rogue.files("client"))
            client = EgressClient(f"127.0.0.1:{port}", creds, egress_request(), connect_timeout=TIMEOUT)
            return await take(client, 1)

    with pytest.raises(UnavailableError) as info:
        run(scenario())
    assert "same CA" in (info.value.hint or "")


@pytest.mark.parametrize("opt_in", [True, False])
def test_drop_reports_become_events_when_asked_for(pki, opt_in):
    events = []

    async def scenario():
        report = drops.report("reverse_log_proxy", delta=7, total=9, timestamp=2)
        fake = FakeEgress([[[log(1), report, log(3)]]])
        async with serve(fake, pki, "rlp") as port:
            client = client_for(pki, port, on_event=events.append, drop_reports=opt_in)
            return await take(client, 2 if opt_in else 3), fake

    got, fake = run(scenario())
    if opt_in:
        assert got == [1, 3]
        assert events == [EnvelopesDropped(7, 9)]
        assert fake.metadata[0].get(drops.REPORT_METADATA_KEY) == "1"
        assert "dropped 7 envelopes" in describe_event(events[0], "x")
    else:
        assert got == [1, 2, 3] and events == []
        assert drops.REPORT_METADATA_KEY not in fake.metadata[0]


def test_a_late_rlp_is_waited_for_without_outage_events(pki):
    events = []

    async def scenario():
        async with serve(FakeEgress(), pki, "rlp") as port:
            pass
        client = client_for(pki, port, on_event=events.append, backoff=(0.01, 0.05))
        stream = client.envelopes()
        pending = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)  # let a few attempts fail while nothing listens
        async with serve(FakeEgress([[[log(1)]]]), pki, "rlp", port=port):
            first = await pending
            await stream.aclose()
        return first.timestamp

    assert run(scenario()) == 1
    assert events == []


class CancelledWhileTheStreamBreaks(EgressClient):
    """An EgressClient whose consumer is cancelled (as by Ctrl-C) at the moment the client stops
    its readiness watcher after the stream broke: the window where the cancel used to be
    swallowed, so the consumer went on reconnecting and `lgr tail` never exited."""

    consumer: asyncio.Task | None = None

    async def _watch_ready(self, channel, state) -> None:
        try:
            await super()._watch_ready(channel, state)
            await asyncio.Event().wait()  # still watching when the stream breaks
        except asyncio.CancelledError:
            if self.consumer is not None:
                self.consumer.cancel()
            raise


def test_a_cancel_that_lands_while_the_stream_breaks_ends_the_consumer(pki):
    async def scenario():
        fake = FakeEgress([[[log(1)], (grpc.StatusCode.UNAVAILABLE, "rlp stopping")]])
        async with serve(fake, pki, "rlp") as port:
            creds = tls.client_credentials(*pki.files("client"))
            client = CancelledWhileTheStreamBreaks(f"127.0.0.1:{port}", creds, egress_request(),
                                                   backoff=(0.01, 0.05))
            consumer = asyncio.ensure_future(take(client, 1000))
            client.consumer = consumer
            done, _ = await asyncio.wait({consumer}, timeout=10)
            consumer.cancel()
            return done, consumer, fake

    done, consumer, fake = run(scenario())
    assert done == {consumer} and consumer.cancelled()
    assert len(fake.requests) == 1, "no reconnect after the cancel"
