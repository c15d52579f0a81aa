"""LogCacheClient and follow() against a real running cache over HTTP."""

from __future__ import annotations

import asyncio

import pytest

from lgr.core import envelope
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.clients.follow import (
    MAX_SOURCES,
    HistoryRequest,
    follow,
    newest_sources,
    read_history,
)
from lgr.core.clients.logcache import LogCacheClient, LogCacheError, MetaInfo
from lgr.core.errors import UnavailableError
from tests.core.apps.cache_support import NS, T0, put, running_cache
from tests.core.apps.firehose_support import run


def logs(n: int, source_id: str = "app-1", start: int = T0, step: int = NS) -> list[envelope_pb2.Envelope]:
    return [envelope.log(f"{source_id} {i}", source_id=source_id, timestamp=start + i * step) for i in range(n)]


def client(api, token: str | None = "admin") -> LogCacheClient:
    raw = {"admin": api.tokens.admin, "reader": api.tokens.reader}.get(token or "", token or "")
    return LogCacheClient(api.cache.url, raw)


def test_read_tail_walk_meta_info(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            sent = logs(2500) + [envelope.counter("requests", total=3, source_id="app-1", timestamp=T0 + 5)]
            put(api.cache, sent)
            async with client(api) as cache:
                assert (await cache.info())["version"] == "3.0.0"
                assert await cache.read("app-1", limit=2) == sent[:1] + sent[-1:]
                assert await cache.read("app-1", envelope_types=["counter"]) == sent[-1:]
                last = await cache.tail("app-1", 5, envelope_types=["LOG"])
                assert [e.log.payload for e in last] == [f"app-1 {i}".encode() for i in range(2495, 2500)]
                pages = [page async for page in cache.walk("app-1", envelope_types=["log"])]
                assert [len(p) for p in pages] == [1000, 1000, 500]
                assert [e for p in pages for e in p] == sent[:-1]
                ranged = [e async for p in cache.walk("app-1", T0 + 10 * NS, T0 + 12 * NS) for e in p]
                assert [e.timestamp for e in ranged] == [T0 + 10 * NS, T0 + 11 * NS]
                assert await cache.meta() == {"app-1": MetaInfo(2501, 0, T0, T0 + 2499 * NS)}
                answer = await cache.query('requests{source_id="app-1"}', time_s=T0 / NS + 1)
                assert answer["data"]["result"][0]["value"][1] == "3"

    run(body())


def test_errors_name_the_cause(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, logs(1, "secret"))
            async with client(api, "reader") as cache:
                with pytest.raises(LogCacheError, match=r"refused to serve source 'secret' \(404\)") as err:
                    await cache.read("secret")
                assert err.value.status == 404 and "--token" in err.value.hint
                with pytest.raises(LogCacheError, match="answered 400: Limit \\(5000\\) must be 1000 or less"):
                    await cache.read("app-1", limit=5000)
                with pytest.raises(LogCacheError, match="rejected the query: expected"):
                    await cache.query('rate(x{source_id="app-1"}')
                with pytest.raises(ValueError, match="unknown envelope type"):
                    await cache.read("app-1", envelope_types=["metric"])
        async with LogCacheClient("http://127.0.0.1:1", timeout=2) as cache:
            with pytest.raises(UnavailableError, match="cannot reach the log cache at http://127.0.0.1:1"):
                await cache.meta()

    run(body())


def test_history_merges_sources_and_keeps_the_newest_lines(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, logs(10, "app-1", step=2 * NS) + logs(10, "app-2", start=T0 + NS, step=2 * NS))
            async with client(api) as cache:
                got = await read_history(cache, HistoryRequest(["app-1", "app-2"], lines=4))
                assert [e.log.payload for e in got] == [b"app-1 8", b"app-2 8", b"app-1 9", b"app-2 9"]
                assert await read_history(cache, HistoryRequest(["app-1"], lines=0)) == []

    run(body())


async def _live(batches, fail: Exception | None = None, gate: asyncio.Event | None = None):
    for batch in batches:
        if gate is not None:
            await gate.wait()
        yield batch
    if fail is not None:
        raise fail
    await asyncio.Event().wait()


def test_follow_yields_history_then_live_batches_without_repeats(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            old = logs(5)
            put(api.cache, old)
            newer = logs(3, start=T0 + 10 * NS)
            # The live stream repeats the last two envelopes the cache held, then goes on.
            live = _live([old[3:], newer[:1], old[4:] + newer[1:]])
            async with client(api) as cache:
                out = []
                stream = follow(cache, live, HistoryRequest(["app-1"], lines=2))
                async for batch in stream:
                    out.append(batch)
                    if sum(len(b) for b in out) == 5:
                        break
                await stream.aclose()
            assert out == [old[3:], newer[:1], newer[1:]]

    run(body())


def test_follow_goes_on_live_when_the_cache_fails_and_ends_with_the_streams_error(tmp_path):
    async def body():
        async with LogCacheClient("http://127.0.0.1:1", timeout=2) as cache:
            warnings = []
            boom = UnavailableError("rlp went away")
            stream = follow(cache, _live([logs(1)], fail=boom), HistoryRequest(["app-1"]), warnings.append)
            got = []
            with pytest.raises(UnavailableError, match="rlp went away"):
                async for batch in stream:
                    got.append(batch)
            assert got == [[], logs(1)]
            assert "cannot reach the log cache" in warnings[0].message
            with pytest.raises(UnavailableError, match="cannot reach"):
                async for _ in follow(cache, _live([]), HistoryRequest(["app-1"])):
                    pass

    run(body())


def test_history_of_every_source_reads_those_written_to_last(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, logs(5, "app-1", step=2 * NS) + logs(5, "app-2", start=T0 + NS, step=2 * NS)
                + logs(3, "old-app", start=T0 - 100 * NS)
                + [envelope.counter("requests", total=7, source_id="router", timestamp=T0 - 50 * NS)])
            async with client(api) as cache:
                got = await read_history(cache, HistoryRequest(None, lines=3))
                assert [e.log.payload for e in got] == [b"app-2 3", b"app-1 4", b"app-2 4"]
                # Unfiltered, the newest 3 envelopes can only come from the 3 newest sources.
                assert await newest_sources(cache, HistoryRequest(None, lines=3)) == ["app-2", "app-1", "router"]
                # A type filter may skip a source's newest envelope: every source is read.
                counters = HistoryRequest(None, lines=1, envelope_types=["COUNTER"])
                assert len(await newest_sources(cache, counters)) == 4
                assert [e.counter.total for e in await read_history(cache, counters)] == [7]
                ranged = HistoryRequest(None, lines=10, end_time=T0 - 60 * NS)
                assert await newest_sources(cache, ranged) == ["old-app"]
                assert await read_history(cache, HistoryRequest(None, lines=0)) == []

    run(body())


def test_history_of_every_source_reads_at_most_max_sources(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            put(api.cache, [env for i in range(MAX_SOURCES + 5) for env in logs(1, f"s{i:03}", start=T0 + i * NS)])
            async with client(api) as cache:
                chosen = await newest_sources(cache, HistoryRequest(None, lines=1000))
                assert chosen == [f"s{i:03}" for i in range(MAX_SOURCES + 4, 4, -1)]
                got = await read_history(cache, HistoryRequest(None, lines=1000))
                assert [e.source_id for e in got] == chosen[::-1]

    run(body())


def test_follow_every_source_skips_live_repeats_of_the_history(tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            old = logs(2, "app-1") + logs(2, "app-2", start=T0 + NS // 2)
            put(api.cache, old)
            newer = logs(1, "app-3", start=T0 + 10 * NS)
            live = _live([old[1:], newer])
            async with client(api) as cache:
                stream = follow(cache, live, HistoryRequest(None, lines=3))
                out = [await anext(stream), await anext(stream)]
                await stream.aclose()
            assert out == [sorted(old, key=lambda e: e.timestamp)[1:], newer]

    run(body())


def test_a_cache_that_does_not_answer_in_time_is_unavailable(tmp_path):
    async def body():
        held = []

        async def hold(reader, writer):  # accept, never answer
            held.append(writer)

        server = await asyncio.start_server(hold, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with LogCacheClient(f"http://127.0.0.1:{port}") as cache:
                with pytest.raises(UnavailableError, match=r"did not answer within 0\.2s"):
                    await read_history(cache, HistoryRequest(None, timeout=0.2))
        finally:
            for writer in held:
                writer.close()
            server.close()
            await server.wait_closed()

    run(body())


def test_the_cache_address_comes_from_flags_env_a_running_lgr_up_or_the_default(tmp_path):
    import os

    from lgr.core import up_state
    from lgr.core.clients.defaults import CacheClientConfig, load_client_config
    from lgr.core.errors import ConfigError

    env = {"LGR_STATE_DIR": str(tmp_path)}
    config = load_client_config(CacheClientConfig, env=env)
    assert (config.cache_url, config.token) == ("http://127.0.0.1:8080", "")
    up_state.write_state(tmp_path, up_state.UpState(
        pid=os.getpid(), started_at=up_state.now_iso(), state_dir=str(tmp_path),
        certs_dir=str(tmp_path / "certs"), log_dir=str(tmp_path / "logs"),
        components=[up_state.ComponentState("cache", "cache", "127.0.0.1:4080", os.getpid())]))
    assert load_client_config(CacheClientConfig, env=env).cache_url == "http://127.0.0.1:4080"
    env.update(LGR_CACHE_ADDR="https://cache.example:8443/", LGR_TOKEN="t0k")
    config = load_client_config(CacheClientConfig, env=env)
    assert (config.cache_url, config.token) == ("https://cache.example:8443", "t0k")
    flagged = load_client_config(CacheClientConfig, env=env, overrides={"cache_addr": "10.0.0.1:9"})
    assert flagged.cache_url == "http://10.0.0.1:9"
    for bad in ("ftp://x:1", "nohost", "h:99999"):
        with pytest.raises(ConfigError, match="LGR_CACHE_ADDR"):
            load_client_config(CacheClientConfig, env={**env, "LGR_CACHE_ADDR": bad})
