"""Wiring: builds the dashboard's feed, stream source, runner and component watcher from a Plan.

One SeriesBook is shared by the feed (counters and gauges seen in the stream) and the watcher
(scraped metrics), so the Metrics view lists both. Scrapes and probes use the client
certificate of the plan (the metrics endpoints want one from the stack's CA).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import partial

from lgr.core import probe
from lgr.core.observe import prom_scrape
from lgr.core.observe.components import ComponentWatcher
from lgr.core.observe.config import Plan
from lgr.core.observe.feed_runner import FeedRunner, StreamSource
from lgr.core.observe.firehose_feed import FirehoseFeed
from lgr.core.observe.series import SeriesBook
from lgr.core.observe.targets import Target


@dataclass
class Observers:
    """Everything the UI reads: start ``runner`` and ``watcher``, read ``feed`` and ``series``."""

    feed: FirehoseFeed
    series: SeriesBook
    runner: FeedRunner
    watcher: ComponentWatcher
    source: StreamSource


def build(plan: Plan) -> Observers:
    """Objects for ``plan``, not started. Raises TLSConfigError for unusable certificate files."""
    cfg = plan.config
    series = SeriesBook()
    feed = FirehoseFeed(series=series)
    source: StreamSource
    if cfg.via == "gateway":
        from lgr.core.observe.gateway_source import GatewaySource

        source = GatewaySource(cfg)
    else:
        from lgr.core.observe.rlp_source import RlpSource

        source = RlpSource(cfg.rlp_addr, cfg.ca_file, cfg.cert_file, cfg.key_file)
    context = _metrics_context(cfg.ca_file, cfg.cert_file, cfg.key_file)
    grpc_context = _grpc_context(cfg.ca_file, cfg.cert_file, cfg.key_file)
    watcher = ComponentWatcher(
        plan.targets, partial(prom_scrape.fetch, context=context, timeout=max(0.5, cfg.scrape_interval)),
        partial(_handshake, grpc_context) if grpc_context else None,
        interval=cfg.scrape_interval, series=series,
    )
    return Observers(feed, series, FeedRunner(feed, source), watcher, source)


def _metrics_context(ca, cert, key) -> ssl.SSLContext | None:
    try:
        return probe.client_context(str(ca), str(cert), str(key))
    except (OSError, ssl.SSLError):
        return None  # each scrape then reports the TLS failure for its component


def _grpc_context(ca, cert, key) -> ssl.SSLContext | None:
    try:
        return probe.grpc_client_context(str(ca), str(cert), str(key))
    except (OSError, ssl.SSLError):
        return None


def _handshake(context: ssl.SSLContext, target: Target) -> bool:
    return bool(target.server_name) and probe.tls_accepts(target.address, context, target.server_name)
