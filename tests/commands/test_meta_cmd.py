"""`lgr meta` as a real subprocess against a running log cache: the cf log-meta table, sorting, JSON."""

from __future__ import annotations

import json

from lgr.core import envelope
from lgr.core.errors import ExitCode
from tests.commands.client_env import client_env
from tests.commands.test_tail_history_cmd import lgr
from tests.core.apps.cache_support import NS, T0, put, running_cache
from tests.core.apps.firehose_support import run

GUID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"


def fill(api) -> None:
    put(api.cache, [envelope.log("x", source_id="router", timestamp=T0 + i * NS) for i in range(120)])
    put(api.cache, [envelope.log("x", source_id=GUID, timestamp=T0 + i * 10 * NS) for i in range(7)])
    put(api.cache, [envelope.log("x", source_id="app-1", timestamp=T0)])


def env_for(pki, tmp_path, api, token: str | None = None) -> dict[str, str]:
    return client_env(pki, tmp_path, LGR_CACHE_ADDR=api.cache.url, LGR_TOKEN=token or api.tokens.admin)


def test_prints_the_sources_table_like_cf_log_meta(pki, tmp_path):
    async def body():
        async with running_cache(tmp_path, max_per_source=100) as api:
            fill(api)
            code, out, err = await lgr("meta", env=env_for(pki, tmp_path, api))
            assert code == 0, err
            assert out.decode() == (
                "Source                                Source Type  Count  Expired  Cache Duration  Rate/minute\n"
                "app-1                                 platform     1      0        1s              60\n"
                f"{GUID}  application  7      0        1m0s            7\n"
                "router                                platform     100    20       1m39s           61\n"
            )

    run(body())


def test_sorts_filters_and_prints_json(pki, tmp_path):
    async def body():
        async with running_cache(tmp_path, max_per_source=100) as api:
            fill(api)
            env = env_for(pki, tmp_path, api)
            _, out, _ = await lgr("meta", "--sort-by", "count", "--reverse", env=env)
            assert [line.split()[0] for line in out.decode().splitlines()[1:]] == ["router", GUID, "app-1"]
            _, out, _ = await lgr("meta", "--source-type", "application", "--json", env=env)
            assert json.loads(out) == [{
                "source_id": GUID, "source_type": "application", "count": 7, "expired": 0,
                "oldest_timestamp": T0, "newest_timestamp": T0 + 60 * NS, "cache_duration": 60,
                "rate_per_minute": 7.0}]
            _, out, _ = await lgr("meta", "--json", env=env_for(pki, tmp_path, api, api.tokens.reader))
            assert [row["source_id"] for row in json.loads(out)] == ["app-1"]
            _, out, _ = await lgr("meta", "--noise", "--interval", "0.2", "--json", env=env)
            assert {row["source_id"]: row["rate_per_minute"] for row in json.loads(out)} == \
                {"app-1": 0.0, GUID: 0.0, "router": 0.0}

    run(body())


def test_a_refused_token_is_one_error_line(pki, tmp_path):
    async def body():
        async with running_cache(tmp_path) as api:
            code, out, err = await lgr("meta", env=env_for(pki, tmp_path, api, "wrong"))
            assert code == ExitCode.UNAVAILABLE and out == b""
            assert err.decode().startswith(f"error: the log cache at {api.cache.url} refused to serve /api/v1/meta")

    run(body())
