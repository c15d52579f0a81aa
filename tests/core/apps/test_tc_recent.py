"""Recent logs and container metrics: the store's bounds and upstream's multipart answers."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from lgr.core._proto.events import envelope_pb2 as v1
from lgr.core._proto.events import log_pb2
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.apps.tc.frames import FrameEncoder
from lgr.core.apps.tc.metrics import TcMetrics
from lgr.core.apps.tc.multipart import multipart_body, parse_multipart
from lgr.core.apps.tc.recent import RecentStore
from lgr.core.metrics import Registry
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import run
from tests.core.apps.tc_support import (
    app_log,
    auth,
    container_metric,
    make_tokens,
    publish,
    subscribed,
    system,
)

BOUNDARY = re.compile(r"^multipart/x-protobuf; boundary=([0-9a-f]{60})$")


@pytest.fixture
def tokens(tmp_path):
    return make_tokens(tmp_path)


def store(logs: int = 100, apps: int = 1000) -> RecentStore:
    return RecentStore(logs, apps, FrameEncoder(TcMetrics(Registry())))


def batch(*envs: envelope_pb2.Envelope) -> bytes:
    return envelope_pb2.EnvelopeBatch(batch=envs).SerializeToString()


def parts_of(resp: httpx.Response) -> list[v1.Envelope]:
    match = BOUNDARY.match(resp.headers["Content-Type"])
    assert match, resp.headers["Content-Type"]
    return [v1.Envelope.FromString(p) for p in parse_multipart(resp.content, match.group(1))]


def test_multipart_bodies_are_laid_out_as_gos_writer_does():
    assert multipart_body([b"a", b"bc"], "B") == b"--B\r\n\r\na\r\n--B\r\n\r\nbc\r\n--B--\r\n"
    assert multipart_body([], "B") == b"\r\n--B--\r\n"
    assert parse_multipart(multipart_body([b"x\r\n", b""], "B"), "B") == [b"x\r\n", b""]
    assert parse_multipart(multipart_body([], "B"), "B") == []


def test_the_store_keeps_the_last_logs_of_the_most_recently_written_apps():
    s = store(logs=3, apps=2)
    now = time.time_ns()
    s.accept(batch(*[app_log("a", f"a{i}", now + i) for i in range(5)]))
    s.accept(batch(app_log("b", "b0", now)))
    assert [v1.Envelope.FromString(d).logMessage.message for d in s.recent_logs("a")] == [
        b"a4", b"a3", b"a2"]
    assert len(s.recent_logs("a", limit=1)) == 1
    s.accept(batch(app_log("c", "c0", now)))  # a is now the least recently written: dropped
    assert s.recent_logs("a") == [] and len(s) == 2
    assert s.recent_logs("b") and s.recent_logs("c")
    s.accept(b"\xff not a batch")  # ignored


def test_the_store_keeps_the_newest_container_metric_per_instance_of_the_last_minute():
    s = store()
    now = time.time_ns()
    plain_gauge = envelope_pb2.Envelope(timestamp=now, source_id="a")
    plain_gauge.gauge.metrics["cpu"].value = 1.0
    s.accept(batch(container_metric("a", 0, 1.0, now - 2), container_metric("a", 0, 2.0, now - 1),
                   container_metric("a", 0, 0.5, now - 3), container_metric("a", 1, 3.0, now),
                   container_metric("a", 2, 9.0, now - 120 * 10**9), plain_gauge))
    got = [v1.Envelope.FromString(d).containerMetric for d in s.container_metrics("a")]
    assert sorted((m.instanceIndex, m.cpuPercentage) for m in got) == [(0, 2.0), (1, 3.0)]
    assert s.container_metrics("nobody") == []


def test_recentlogs_and_containermetrics_answer_multipart_v1_envelopes(pki, tokens):
    async def body():
        async with system(pki, tokens) as (routers, tc):
            await subscribed(routers, 1)  # the store's own subscription
            now = time.time_ns()
            await publish(pki, routers[0], [
                *[app_log("app-a", f"line {i}", now + i) for i in range(5)],
                app_log("app-b", "not a's", now),
                container_metric("app-a", 0, 10.0, now - 5),
                container_metric("app-a", 0, 20.0, now),
                container_metric("app-a", 1, 30.0, now),
            ])
            await async_wait_until(lambda: len(tc.store.container_metrics("app-a")) == 2
                                   and len(tc.store.recent_logs("app-a")) == 5)
            async with httpx.AsyncClient(base_url=tc.http_url, timeout=10,
                                         headers=auth(tokens.reader)) as client:
                logs = parts_of(await client.get("/apps/app-a/recentlogs"))
                assert [e.logMessage.message for e in logs] == [
                    f"line {i}".encode() for i in (4, 3, 2, 1, 0)]
                assert all(e.eventType == v1.Envelope.LogMessage for e in logs)
                assert logs[0].logMessage.app_id == "app-a" and logs[0].origin == "test"
                two = parts_of(await client.get("/apps/app-a/recentlogs?limit=2"))
                assert len(two) == 2
                assert len(parts_of(await client.get("/apps/app-a/recentlogs?limit=x"))) == 5
                metrics = parts_of(await client.get("/apps/app-a/containermetrics"))
                assert sorted((e.containerMetric.instanceIndex, e.containerMetric.cpuPercentage)
                              for e in metrics) == [(0, 20.0), (1, 30.0)]
                assert all(e.containerMetric.applicationId == "app-a" for e in metrics)
                assert parts_of(await client.get("/apps/app-a/recentlogs?limit=0")) == []
            assert tc.m.recent_requests.value == 5

    run(body())


def test_without_a_store_both_answer_upstreams_no_log_cache_message(pki, tokens):
    async def body():
        async with system(pki, tokens, recent_logs="0") as (_, tc):
            async with httpx.AsyncClient(base_url=tc.http_url, timeout=10,
                                         headers=auth(tokens.admin)) as client:
                for path in ("/apps/a/recentlogs", "/apps/a/containermetrics"):
                    (env,) = parts_of(await client.get(path))
                    assert env.origin == "loggregator.trafficcontroller"
                    assert env.logMessage.message == (
                        b"recent log endpoint requires a log cache. please talk to you operator")
                    assert env.eventType == v1.Envelope.LogMessage
                    assert env.logMessage.message_type == log_pb2.LogMessage.ERR

    run(body())
