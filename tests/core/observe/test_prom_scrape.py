"""Prometheus text parsing, the ingress/egress/dropped totals read from it, and fetching over mTLS."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest

from lgr.core import tls
from lgr.core.metrics import Registry
from lgr.core.metrics_server import MetricsServer
from lgr.core.observe import prom_scrape
from lgr.core.probe import client_context

AGENT_TEXT = """\
# HELP dropped Total number of dropped envelopes.
# TYPE dropped counter
dropped{direction="egress",metric_version="2.0"} 7
dropped{direction="ingress",metric_version="2.0"} 3
# TYPE ingress counter
ingress{metric_version="1.0"} 10
ingress{metric_version="2.0"} 90
# TYPE egress counter
egress{metric_version="2.0"} 95
# TYPE doppler_v2_streams gauge
doppler_v2_streams{metric_version="2.0"} 5
"""


def test_parses_samples_labels_and_types():
    samples = prom_scrape.parse(AGENT_TEXT)
    assert len(samples) == 6
    first = samples[0]
    assert first.name == "dropped" and first.kind == "counter" and first.value == 7
    assert first.labels == (("direction", "egress"), ("metric_version", "2.0"))
    assert first.key == 'dropped{direction="egress",metric_version="2.0"}'
    assert samples[-1].kind == "gauge"


def test_parses_escapes_special_values_timestamps_and_untyped():
    text = ('weird{path="a\\"b\\\\c\\nd",x="1"} NaN\nup +Inf 1700000000000\n'
            'down -Inf\nrequests_total 5\n# TYPE requests counter\n')
    weird, up, down, total = prom_scrape.parse(text)
    assert weird.label("path") == 'a"b\\c\nd' and math.isnan(weird.value)
    assert up.value == math.inf and down.value == -math.inf
    assert total.kind == "untyped"


@pytest.mark.parametrize("bad", ["ingress", "ingress{a=1} 2", "ingress twelve", "9lives 1"])
def test_rejects_lines_that_are_not_samples(bad):
    with pytest.raises(prom_scrape.ScrapeError, match="line 1"):
        prom_scrape.parse(bad)


def test_flow_sums_labels_and_splits_drops_by_direction():
    flow = prom_scrape.flow_of(prom_scrape.parse(AGENT_TEXT))
    assert (flow.ingress, flow.egress) == (100, 95)
    assert flow.dropped == {"egress": 7, "ingress": 3}
    assert flow.start_time is None


def test_flow_of_the_traffic_controller_and_the_log_cache():
    tc = prom_scrape.parse('egress{endpoint="firehose"} 4\negress{endpoint="stream"} 6\ningress 11\n')
    assert (prom_scrape.flow_of(tc).ingress, prom_scrape.flow_of(tc).egress) == (11, 10)
    cache = prom_scrape.parse("log_cache_ingress 8\nnozzle_ingress 8\nlog_cache_egress 2\n"
                              "process_start_time_seconds 1700000000\n")
    flow = prom_scrape.flow_of(cache)
    assert (flow.ingress, flow.egress, flow.start_time) == (8, 2, 1_700_000_000)
    assert prom_scrape.flow_of([]).ingress is None


def test_reads_what_our_registry_renders():
    registry = Registry()
    registry.counter("ingress", "in").inc(12)
    registry.counter("dropped", "lost", labels={"direction": "egress"}).inc(2)
    registry.gauge("subscriptions", "subs").set(1.5)
    flow = prom_scrape.flow_of(prom_scrape.parse(registry.render_prometheus()))
    assert flow.ingress == 12 and flow.dropped == {"egress": 2}


def test_fetches_a_metrics_endpoint_over_mutual_tls(pki):
    registry = Registry()
    registry.counter("ingress", "in").inc(3)
    started, stop = threading.Event(), threading.Event()
    box = {}

    def serve():
        async def main():
            server = MetricsServer(registry.render_prometheus, port=0,
                                   ssl_context=tls.server_ssl_context(*pki.files("router")))
            await server.start()
            box["url"] = server.url
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)
            await server.stop()
        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert started.wait(10)
        context = client_context(*map(str, pki.files("client")))
        text = prom_scrape.fetch(box["url"], context)
        assert prom_scrape.flow_of(prom_scrape.parse(text)).ingress == 3
        with pytest.raises(prom_scrape.ScrapeError, match="404"):
            prom_scrape.fetch(box["url"].replace("/metrics", "/nope"), context)
        rogue = client_context(*map(str, pki.rogue.files("client")))
        with pytest.raises(OSError):
            prom_scrape.fetch(box["url"], rogue)
    finally:
        stop.set()
        thread.join(10)
