"""Fuzz the log cache's HTTP parameters: arbitrary query strings to /api/v1/read, /meta, /query and
/query_range of a real cache over real HTTP answer a result or a 4xx with a JSON body (or the
empty 404 of a refused token), never a 5xx; the timeout (500) is the one exception, and it cannot
happen in the small store used here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from lgr.core import envelope
from lgr.core.apps.cache.app import Cache
from tests.core.apps.cache_support import NS, T0, cache_config, put
from tests.core.apps.gateway_support import Tokens
from tests.fuzz.support import fuzz

INTS = st.one_of(st.integers(-2, 1002).map(str), st.integers(-(2**64), 2**64).map(str),
                 st.sampled_from(["", "+1", "-0", "1.5", "0x10", " 1", "１", str(T0), str(T0 + 99 * NS)]),
                 st.text(max_size=6))
REGEXES = st.one_of(st.sampled_from(["cpu", r"(\w+)+!", "(a*)*b", "(", r"(a)\1", "(?<=a)b", "\\",
                                     "a{1001}", "^re", ""]), st.text(max_size=12))
VALUES = {
    "limit": INTS, "start_time": INTS, "end_time": INTS, "name_filter": REGEXES,
    "envelope_types": st.one_of(st.sampled_from(["LOG", "COUNTER", "GAUGE", "TIMER", "EVENT", "ANY",
                                                 "0", "5", "6", "-1", "log", ""]), st.text(max_size=5)),
    "descending": st.one_of(st.sampled_from(["true", "false", "1", "T", "yes", ""]), st.text(max_size=5)),
    "query": st.one_of(st.sampled_from(['requests{source_id="app"}', 'rate(requests{source_id="app"}[1m])',
                                        "(" * 300 + "1" + ")" * 300, "-" * 500 + "1", "1 +", "",
                                        'requests{source_id=~"(a|aa)+$"}']), st.text(max_size=30)),
    "time": INTS, "start": INTS, "end": INTS,
    "step": st.one_of(st.sampled_from(["1", "15s", "0", "-1", "1e-9", "1h"]), st.text(max_size=5)),
}
PARAMS = st.lists(st.one_of(
    st.sampled_from(sorted(VALUES)).flatmap(lambda k: VALUES[k].map(lambda v: (k, v))),
    st.tuples(st.text(max_size=8), st.text(max_size=8))), max_size=6)
PATHS = st.sampled_from(["/api/v1/read/app", "/api/v1/read/", "/api/v1/read/%ff", "/api/v1/meta",
                         "/api/v1/query", "/api/v1/query_range", "/api/v1/info", "/api/v1/read/a/b"])
TOKENS = st.sampled_from(["admin", "reader", "bogus", None, "Bearer", "Basic eA=="])


class Server:
    """A running cache (access control on) and an HTTP client, on a loop of their own."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.tokens = Tokens.make(tmp / "tokens.json")
        self.cache = Cache(cache_config(self.tokens.path))
        self.loop.run_until_complete(self.cache.start())
        put(self.cache, [envelope.counter("requests", total=i, source_id="app", timestamp=T0 + i * NS)
                         for i in range(50)]
            + [envelope.log(f"line {i}", source_id="app", timestamp=T0 + i * NS) for i in range(50)])
        self.http = httpx.AsyncClient(timeout=30)

    def get(self, path: str, params: list[tuple[str, str]], token: str | None) -> httpx.Response:
        known = {"admin": self.tokens.admin, "reader": self.tokens.reader, "bogus": "bogus"}
        value = f"bearer {known[token]}" if token in known else token
        headers = {"Authorization": value} if value is not None else {}
        return self.loop.run_until_complete(self.http.get(self.cache.url + path, params=params,
                                                          headers=headers))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self.cache.stop(1.0))
        self.loop.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("cache"))
    try:
        yield s
    finally:
        s.close()


@fuzz
@given(PATHS, PARAMS, TOKENS)
def test_any_parameters_get_a_result_or_a_client_error(server, path, params, token):
    r = server.get(path, params, token)
    event(f"{r.status_code}")
    assert r.status_code < 500, (path, params, r.status_code, r.text[:300])
    if r.status_code == 404 and not r.content:
        return  # a refused token or source: upstream's empty 404
    assert r.headers["content-type"].startswith("application/json")
    doc = json.loads(r.content)
    assert "Traceback" not in r.text
    if r.status_code >= 400:
        assert ("code" in doc and "message" in doc) or doc.get("status") == "error", doc
