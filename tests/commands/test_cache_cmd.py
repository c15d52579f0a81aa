"""`lgr cache start` as a real process: env config, filling from a real RLP, serving, SIGTERM, errors."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import httpx

from lgr.core.auth import tokens
from lgr.core.errors import ExitCode
from tests.commands.process_support import (
    lgr_env,
    lgr_process,
    terminate,
    wait_for_line,
)
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    channel,
    log_envelope,
    router_and_rlp,
    run,
    send,
)

BOUND = re.compile(r"cache http bound to: (127\.0\.0\.1:\d+)")
METRICS = re.compile(r"cache metrics bound to: (https://\S+)")
GRPC_BOUND = re.compile(r"cache grpc bound to: (127\.0\.0\.1:\d+)")
CACHE_ENV = ("ADDR", "MAX_PER_SOURCE", "MEMORY_", "LOGS_PROVIDER_", "SHARD_ID", "SELECTORS", "EXTERNAL_",
             "UAA_", "CAPI_", "METRICS_", "LGR_", "CA_PATH", "CERT_PATH", "KEY_PATH")


def cache_env(**extra: str) -> dict[str, str]:
    return lgr_env(extra, CACHE_ENV)


def test_cache_start_fills_from_the_rlp_and_serves_until_sigterm(pki, tmp_path):
    token, _ = tokens.mint(tmp_path / "tokens.json", "admin", admin=True)
    ca, cert, key = pki.files("cache")

    async def scenario():
        async with router_and_rlp(pki) as (router, rlp):
            env = cache_env(ADDR="127.0.0.1:0", METRICS_PORT="0", LOGS_PROVIDER_ADDR=rlp.address,
                            LOGS_PROVIDER_CA_FILE_PATH=str(ca), LOGS_PROVIDER_CERT_FILE_PATH=str(cert),
                            LOGS_PROVIDER_KEY_FILE_PATH=str(key), LGR_TOKENS_FILE=str(tmp_path / "tokens.json"),
                            MAX_PER_SOURCE="2")
            async with lgr_process("cache", "start", env=env) as proc:
                address, metrics_url = await wait_for_line(proc, BOUND, METRICS)
                assert metrics_url.endswith("/metrics")  # mTLS with the LOGS_PROVIDER_* files
                await async_wait_until(lambda: len(router.egress.streams) == 1, timeout=15)
                ingress = channel(pki, router.address, "doppler", name="agent")
                await send(ingress, [log_envelope(i, source_id="app-1") for i in range(3)])
                await ingress.close()
                headers = {"Authorization": f"bearer {token}"}
                async with httpx.AsyncClient(base_url=f"http://{address}", headers=headers) as http:
                    async def count() -> int:
                        meta = (await http.get("/api/v1/meta")).json().get("meta", {})
                        return int(meta.get("app-1", {}).get("count", 0))

                    for _ in range(150):
                        if await count() == 2:
                            break
                        await asyncio.sleep(0.1)
                    meta = (await http.get("/api/v1/meta")).json()["meta"]["app-1"]
                    assert (meta["count"], meta["expired"]) == ("2", "1")
                assert await terminate(proc) == 0

    run(scenario(), timeout=60)


def test_config_errors_name_every_bad_variable():
    proc = subprocess.run(
        [sys.executable, "-m", "lgr", "cache", "start"], capture_output=True, text=True, timeout=30,
        env=cache_env(MAX_PER_SOURCE="0", LOGS_PROVIDER_ADDR="127.0.0.1:8083", SELECTORS="log,metric",
                      COLUMNS="300"))
    assert proc.returncode == ExitCode.CONFIG
    for problem in ("MAX_PER_SOURCE=0: must be at least 1",
                    "LOGS_PROVIDER_CA_FILE_PATH is required when LOGS_PROVIDER_ADDR is set",
                    "SELECTORS='log,metric'"):
        assert problem in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_shows_every_env_var():
    proc = subprocess.run([sys.executable, "-m", "lgr", "cache", "start", "--help"], capture_output=True,
                          text=True, timeout=30, env=cache_env(COLUMNS="250"))
    assert proc.returncode == 0
    for name in ("ADDR", "MAX_PER_SOURCE", "MEMORY_LIMIT_PERCENT", "MEMORY_LIMIT_BYTES",
                 "LGR_CACHE_MEMORY_LIMIT", "LOGS_PROVIDER_ADDR", "LOGS_PROVIDER_CA_FILE_PATH", "SHARD_ID",
                 "EXTERNAL_CERT", "LGR_TOKENS_FILE", "UAA_ADDR", "METRICS_PORT",
                 "LGR_CACHE_DISABLE_ACCESS_CONTROL"):
        assert f"env: {name}" in proc.stdout, name


def test_cache_start_serves_upstreams_grpc_api_when_asked(pki):
    from lgr.core import envelope
    from lgr.core._proto.logcache.v1 import egress_pb2, egress_pb2_grpc, ingress_pb2, ingress_pb2_grpc
    from lgr.core._proto.loggregator.v2 import envelope_pb2

    ca, cert, key = pki.files("cache")
    env = cache_env(ADDR="127.0.0.1:0", METRICS_PORT="-1", LGR_CACHE_GRPC_ADDR="127.0.0.1:0",
                    CA_PATH=str(ca), CERT_PATH=str(cert), KEY_PATH=str(key),
                    LGR_CACHE_DISABLE_ACCESS_CONTROL="true")

    async def scenario():
        async with lgr_process("cache", "start", env=env) as proc:
            (address,) = await wait_for_line(proc, GRPC_BOUND)
            ch = channel(pki, address, "log-cache")
            sent = [envelope.log(f"line {i}", source_id="app-9", timestamp=1000 + i) for i in range(3)]
            await ingress_pb2_grpc.IngressStub(ch).Send(ingress_pb2.SendRequest(
                envelopes=envelope_pb2.EnvelopeBatch(batch=sent)), timeout=10)
            got = await egress_pb2_grpc.EgressStub(ch).Read(
                egress_pb2.ReadRequest(source_id="app-9", limit=2, descending=True), timeout=10)
            assert [e.log.payload for e in got.envelopes.batch] == [b"line 2", b"line 1"]
            await ch.close()
            assert await terminate(proc) == 0

    run(scenario(), timeout=60)


def test_the_grpc_api_without_its_certificates_is_a_config_error():
    proc = subprocess.run(
        [sys.executable, "-m", "lgr", "cache", "start"], capture_output=True, text=True, timeout=30,
        env=cache_env(LGR_CACHE_GRPC_ADDR="127.0.0.1:nope", COLUMNS="300"))
    assert proc.returncode == ExitCode.CONFIG
    for problem in ("LGR_CACHE_GRPC_ADDR='127.0.0.1:nope': not host:port",
                    "CA_PATH is required when LGR_CACHE_GRPC_ADDR is set",
                    "KEY_PATH is required when LGR_CACHE_GRPC_ADDR is set"):
        assert problem in proc.stderr
