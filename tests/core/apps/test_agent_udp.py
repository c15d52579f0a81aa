"""The agent's v1 path: real dropsonde datagrams reach routers over Pusher, tagged and counted."""

from __future__ import annotations

import socket

import pytest

from lgr.core import envelope as E
from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.events import log_pb2, metric_pb2
from lgr.core.apps.agent.app import Agent
from lgr.core.errors import UnavailableError
from tests.conftest import async_wait_until
from tests.core.apps.agent_support import agent_config, metric, routers, run

TAGS = {"AGENT_DEPLOYMENT": "cf", "AGENT_JOB": "diego-cell", "AGENT_INDEX": "0",
        "AGENT_IP": "10.0.0.5", "AGENT_TAGS": "az:z1"}


def log_message(text: str, app_id: str = "app-guid", **fields: str) -> bytes:
    return v1.Envelope(
        origin="rep", eventType=v1.Envelope.LogMessage, timestamp=1_000,
        logMessage=log_pb2.LogMessage(
            message=text.encode(), message_type=log_pb2.LogMessage.ERR, timestamp=2_000,
            app_id=app_id, source_type="APP/PROC/WEB", source_instance="1",
        ),
        **fields,
    ).SerializeToString()


def value_metric(name: str, value: float) -> bytes:
    return v1.Envelope(
        origin="gorouter", eventType=v1.Envelope.ValueMetric, timestamp=1_000,
        valueMetric=metric_pb2.ValueMetric(name=name, value=value, unit="ms"),
    ).SerializeToString()


def counter_event(name: str, delta: int, total: int | None = None) -> bytes:
    event = metric_pb2.CounterEvent(name=name, delta=delta)
    if total is not None:
        event.total = total
    return v1.Envelope(
        origin="bbs", eventType=v1.Envelope.CounterEvent, timestamp=1_000, counterEvent=event,
    ).SerializeToString()


def send_udp(port: int, *datagrams: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in datagrams:
            sock.sendto(data, ("127.0.0.1", port))


def test_v1_events_go_to_routers_as_v1_tagged_by_the_v1_rules_only(pki):
    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address, **TAGS)) as agent:
            send_udp(agent.udp_port, log_message("hi", deployment="own-deployment"))
            send_udp(agent.udp_port, value_metric("latency", 12.5))
            send_udp(agent.udp_port, counter_event("requests", 2), counter_event("requests", 3))
            await async_wait_until(lambda: len(router.v1_payloads) == 4)
            assert router.envelopes == []  # nothing on the v2 path
            by_type: dict[int, list[v1.Envelope]] = {}
            for env in router.v1_envelopes:
                by_type.setdefault(env.eventType, []).append(env)
            (log_env,), (value,) = by_type[v1.Envelope.LogMessage], by_type[v1.Envelope.ValueMetric]
            first, second = sorted(by_type[v1.Envelope.CounterEvent],
                                   key=lambda env: env.counterEvent.total)
            # Unchanged but for the tagger's defaults where a field was missing and the
            # source_id tag upstream's unmarshaller sets to the origin: AGENT_TAGS are not added.
            assert log_env.logMessage.timestamp == 2_000 and log_env.timestamp == 1_000
            assert (log_env.deployment, log_env.job, log_env.index, log_env.ip) == (
                "own-deployment", "diego-cell", "0", "10.0.0.5")
            assert dict(log_env.tags) == {"source_id": "rep"}
            assert dict(value.tags) == {"source_id": "gorouter"}
            assert value.deployment == "cf"
            assert (first.counterEvent.delta, first.counterEvent.total) == (2, 2)
            assert (second.counterEvent.delta, second.counterEvent.total) == (3, 5)
            assert metric(agent, "ingress", metric_version="1.0") == 4
            await async_wait_until(lambda: metric(agent, "egress", metric_version="1.0") == 4)
            assert metric(agent, "egress", metric_version="2.0") == 0

    run(scenario())


def test_a_router_without_batch_pusher_gets_one_envelopedata_per_envelope(pki):
    async def scenario():
        async with routers(pki, batch_pusher=False) as (router,), \
                Agent(agent_config(pki, router.address, **TAGS)) as agent:
            pool = agent.v1_pool
            # Each stream first tries BatchPusher, is refused, and reconnects with Pusher.
            await async_wait_until(lambda: pool.connected == 5 and all(
                s.method == "/plumbing.DopplerIngestor/Pusher" for s in pool._streams), timeout=10)
            datagrams = [log_message(f"m{i}", deployment="d") for i in range(50)]
            send_udp(agent.udp_port, *datagrams)
            await async_wait_until(lambda: len(router.v1_payloads) == 50)
            assert sorted(e.logMessage.message for e in router.v1_envelopes) == sorted(
                f"m{i}".encode() for i in range(50))
            assert metric(agent, "egress", metric_version="1.0") == 50

    run(scenario())


def test_a_datagram_the_pipeline_does_not_change_is_forwarded_byte_for_byte(pki):
    whole = v1.Envelope(
        origin="rep", eventType=v1.Envelope.LogMessage, timestamp=1_000, deployment="d", job="j",
        index="i", ip="1.2.3.4", tags={"source_id": "other-than-app"},
        logMessage=log_pb2.LogMessage(message=b"m", message_type=log_pb2.LogMessage.OUT,
                                      timestamp=5, app_id="app"),
    ).SerializeToString()

    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address, **TAGS)) as agent:
            send_udp(agent.udp_port, whole, counter_event("c", 1, total=7))
            await async_wait_until(lambda: len(router.v1_payloads) == 2)
            assert whole in router.v1_payloads

    run(scenario())


def test_v1_counter_totals_key_on_origin_name_and_tags_apart_from_v2(pki):
    def counter(deployment: str, delta: int) -> bytes:
        return v1.Envelope(
            origin="bbs", eventType=v1.Envelope.CounterEvent, deployment=deployment,
            counterEvent=metric_pb2.CounterEvent(name="requests", delta=delta),
        ).SerializeToString()

    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            # Deployment is not part of the key: 3 then 7, as upstream (not 3 then 4).
            send_udp(agent.udp_port, counter("a", 3))
            await async_wait_until(lambda: len(router.v1_payloads) == 1)
            send_udp(agent.udp_port, counter("b", 4))
            await async_wait_until(lambda: len(router.v1_payloads) == 2)
            assert [e.counterEvent.total for e in router.v1_envelopes] == [3, 7]
            # A v2 counter of the same name and tags keeps its own total.
            agent.tagger.totals.apply(E.counter("requests", delta=4, source_id="bbs",
                                                tags={"source_id": "bbs"}))
            assert len(agent.v1.totals) == 1 and len(agent.tagger.totals) == 1

    run(scenario())


def test_malformed_datagrams_are_counted_and_the_listener_keeps_working(pki):
    no_message = v1.Envelope(origin="x", eventType=v1.Envelope.LogMessage).SerializePartialToString()
    missing_required = v1.Envelope(eventType=v1.Envelope.ValueMetric).SerializePartialToString()
    incomplete_metric = v1.Envelope(
        origin="x", eventType=v1.Envelope.ValueMetric, valueMetric=metric_pb2.ValueMetric(name="n")
    ).SerializePartialToString()

    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            send_udp(agent.udp_port, b"\xff\xff\xff", b"", b"not protobuf at all", no_message,
                     missing_required, incomplete_metric, b"\x00" * 60000)
            await async_wait_until(lambda: metric(agent, "malformed", metric_version="1.0") == 7)
            send_udp(agent.udp_port, log_message("still here"))
            await async_wait_until(lambda: len(router.v1_payloads) == 1)
            assert router.v1_envelopes[0].logMessage.message == b"still here"
            assert metric(agent, "ingress", metric_version="1.0") == 1

    run(scenario())


def test_v1_counter_with_a_total_resets_it(pki):
    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            send_udp(agent.udp_port, counter_event("c", 1))
            await async_wait_until(lambda: len(router.v1_payloads) == 1)
            send_udp(agent.udp_port, counter_event("c", 1, total=50))
            await async_wait_until(lambda: len(router.v1_payloads) == 2)
            send_udp(agent.udp_port, counter_event("c", 0))
            await async_wait_until(lambda: len(router.v1_payloads) == 3)
            # v1's rule: a zero delta still reports the running total.
            assert [e.counterEvent.total for e in router.v1_envelopes] == [1, 50, 50]

    run(scenario())


def test_disable_udp_binds_no_socket(pki):
    async def scenario():
        async with routers(pki) as (router,):
            cfg = agent_config(pki, router.address, AGENT_DISABLE_UDP="true")
            async with Agent(cfg) as agent:
                assert agent.udp_port is None

    run(scenario())


def test_a_taken_udp_port_fails_start_by_name_and_releases_the_grpc_port(pki):
    async def scenario():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            async with routers(pki) as (router,):
                agent = Agent(agent_config(pki, router.address, AGENT_INCOMING_UDP_PORT=str(port)))
                with pytest.raises(UnavailableError) as err:
                    await agent.start()
                assert "AGENT_INCOMING_UDP_PORT" in (err.value.hint or "")
                assert agent.pool is None and agent.udp is None
                await agent.stop()  # a failed start leaves nothing to stop

    run(scenario())


def _with_bad_origin(datagram: bytes) -> bytes:
    """``datagram`` (origin "rep") with origin b"\\xff\\xfe" spliced in: Python's protobuf will
    not serialize a str that is not UTF-8, but proto2 allows it on the wire."""
    good_origin = b"\x0a\x03rep"
    assert datagram.count(good_origin) == 1
    return datagram.replace(good_origin, b"\x0a\x02\xff\xfe")


def test_regression_issue10_finding3_non_utf8_origin_loses_nothing_else(pki):
    """Issue 10, finding 3: one datagram whose origin is not UTF-8 threw away its whole receive
    batch uncounted. Now it is forwarded, as upstream accepts it (its source_id tag holds the
    origin's bytes), and the 20 valid datagrams sent right behind it all arrive."""
    bad = _with_bad_origin(log_message("poison", app_id=""))
    good = [log_message(f"good {i}") for i in range(20)]

    async def scenario():
        async with routers(pki) as (router,), Agent(agent_config(pki, router.address)) as agent:
            send_udp(agent.udp_port, bad, *good)
            await async_wait_until(lambda: len(router.v1_payloads) == 21)
            envs = router.v1_envelopes
            payloads = sorted(env.logMessage.message for env in envs)
            assert payloads == sorted([b"poison"] + [f"good {i}".encode() for i in range(20)])
            (poison,) = [p for p in router.v1_payloads if b"poison" in p]
            assert b"\x0a\x09source_id\x12\x02\xff\xfe" in poison
            assert metric(agent, "ingress", metric_version="1.0") == 21
            assert metric(agent, "malformed", metric_version="1.0") == 0

    run(scenario())
