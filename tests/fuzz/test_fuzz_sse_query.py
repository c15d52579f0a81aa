"""Fuzz the gateway's /v2/read query: any query string parses (as Go's url.ParseQuery does) into
an EgressBatchRequest the reverse log proxy accepts, or into one of upstream's 400 errors, never
an exception; and over real HTTPS, a gateway answers any query with a stream or a 4xx JSON error,
never a 5xx."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from lgr.core.apps.gateway import errors
from lgr.core.apps.gateway.app import Gateway
from lgr.core.apps.gateway.query import build_request, parse_query
from lgr.core.apps.rlp.app import Rlp
from lgr.core.apps.router.app import Router
from lgr.core.selectors import validate
from tests.core.apps.firehose_support import rlp_config, router_config
from tests.core.apps.gateway_support import Tokens, gateway_config
from tests.fuzz.support import fuzz

UPSTREAM_400 = {e.name for e in (errors.EMPTY_QUERY, errors.MISSING_TYPE,
                                 errors.MISSING_COUNTER_NAME, errors.MISSING_GAUGE_NAME)}
KEYS = st.sampled_from(["log", "counter", "gauge", "timer", "event", "counter.name", "gauge.name",
                        "source_id", "shard_id", "deterministic_name", "", "lo%67", "log;x",
                        "counter%2Ename", "gauge.name%"])
VALUES = st.one_of(st.sampled_from(["", "app-1", "a,b", ",", "%ff", "%", "%zz", "%c3%28", "+",
                                    "%00", "a%20b", "é", "%E2%9C%93", "\udcff", "a\udcc3\udc28"]),
                   st.text(max_size=10),
                   # raw request-target bytes that are not UTF-8, as aiohttp hands them over
                   st.binary(max_size=6).map(lambda b: b.decode("utf-8", "surrogateescape")))
PAIRS = st.lists(st.tuples(KEYS, st.one_of(st.none(), VALUES)), max_size=6).map(
    lambda pairs: "&".join(k if v is None else f"{k}={v}" for k, v in pairs))
QUERIES = st.one_of(PAIRS, st.text(max_size=60),
                    st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")),
                    st.sampled_from(["", "&&&", "=", "log&log", "log=%", "gauge.name=",
                                     "counter.name&counter.name=x", "source_id=%ff&log",
                                     "log&source_id=\udcff"]))


@fuzz
@given(QUERIES)
def test_any_query_is_a_request_the_rlp_accepts_or_an_upstream_400(raw):
    query = parse_query(raw)
    try:
        request = build_request(query)
    except errors.JsonError as exc:
        assert exc.status == 400 and exc.name in UPSTREAM_400, exc
        json.loads(exc.body)
        event(exc.name)
        return
    event("request")
    assert request.use_preferred_tags
    validate(request)  # every selector has a type: the rlp never refuses it
    request.SerializeToString()  # every string is valid UTF-8


class Server:
    """Router → RLP → gateway, started on a loop of their own, with an HTTPS client."""

    def __init__(self, pki: Any, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.tokens = Tokens.make(tmp / "tokens.json")
        self.router = Router(router_config(pki, metrics_port=-1))
        self.run(self.router.start())
        self.rlp = Rlp(rlp_config(pki, [self.router.address], metrics_port=-1))
        self.run(self.rlp.start())
        self.gateway = Gateway(gateway_config(pki, self.rlp.address, self.tokens.path,
                                              metrics_port=-1))
        self.run(self.gateway.start())
        self.ssl = ssl.create_default_context(cafile=str(pki.ca))

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 30))

    async def status(self, raw: str, escape: bool) -> tuple[int, bytes]:
        """GET /v2/read?raw on a raw TLS socket (the query sent as it is); status and head+body
        start. A 200 stream is left at once."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.gateway.port,
                                                       ssl=self.ssl, server_hostname="127.0.0.1")
        try:
            try:
                target = raw.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                target = raw.encode("utf-8", "surrogatepass")
            # Bytes that would end or split the request line become "+"; others above ASCII are
            # %-escaped (as clients send them) or, with ``escape`` False, sent as they are.
            target = b"".join(
                b"%%%02X" % b if b > 0x7F and escape
                else bytes([b if b > 0x20 and b not in (0x23, 0x7F) else 0x2B]) for b in target)
            writer.write(b"GET /v2/read?" + target + b" HTTP/1.1\r\nHost: gw\r\n"
                         b"Authorization: bearer " + self.tokens.admin.encode() +
                         b"\r\nConnection: close\r\n\r\n")
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            code = int(head.split(b" ", 2)[1])
            body = b"" if code == 200 else await reader.read()
            return code, head + body
        finally:
            writer.transport.abort()

    def close(self) -> None:
        self.run(self.gateway.stop(1.0))
        self.run(self.rlp.stop(1.0))
        self.run(self.router.stop(1.0))
        self.loop.close()


@pytest.fixture(scope="module")
def server(pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(pki, tmp_path_factory.mktemp("gateway"))
    try:
        yield s
    finally:
        s.close()


@fuzz
@given(QUERIES, st.booleans())
def test_a_real_gateway_answers_any_query_with_a_stream_or_a_client_error(server, raw, escape):
    code, response = server.run(server.status(raw, escape))
    event(str(code))
    assert code == 200 or 400 <= code < 500, (raw, response[:300])
    if code != 200:
        head, _, body = response.partition(b"\r\n\r\n")
        if body.startswith(b"{"):
            assert json.loads(body)["error"] in UPSTREAM_400, response
        else:
            # A request line aiohttp's parser refuses (bytes a URI may not hold) never reaches
            # the handler: its own 400, as Go's server answers an invalid URI.
            event("400 from the HTTP parser")
            assert code == 400 and b"Bad Request" in head, response
