"""`lgr rlp start` as a real process in front of a router: serving, SIGTERM, --help, errors."""

from __future__ import annotations

import re
import subprocess
import sys

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.errors import ExitCode
from tests.commands.process_support import (
    lgr_env,
    lgr_process,
    terminate,
    wait_for_line,
)
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import (
    Collector,
    channel,
    log_envelope,
    router_and_channel,
    run,
    selectors,
    send,
)

BOUND = re.compile(r"rlp grpc bound to: (127\.0\.0\.1:\d+)")


def rlp_env(pki, routers: str, **extra: str) -> dict[str, str]:
    ca, cert, key = pki.files("rlp")
    return lgr_env({"RLP_CA_FILE": str(ca), "RLP_CERT_FILE": str(cert), "RLP_KEY_FILE": str(key),
                    "RLP_PORT": "0", "METRICS_PORT": "-1", "ROUTER_ADDRS": routers, **extra})


def test_rlp_start_serves_until_sigterm(pki):
    async def scenario():
        async with router_and_channel(pki, name="agent") as (router, agent), \
                lgr_process("rlp", "start", env=rlp_env(pki, router.address)) as proc:
            (address,) = await wait_for_line(proc, BOUND)
            consumer = channel(pki, address, "reverselogproxy")
            c = Collector(consumer, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            await async_wait_until(lambda: len(router.egress.streams) == 1, timeout=10)
            await send(agent, [log_envelope(0)])
            await async_wait_until(lambda: len(c.envelopes) == 1, timeout=10)
            assert await terminate(proc) == 0
            await consumer.close()

    run(scenario(), timeout=60)


def test_help_shows_every_env_var():
    proc = subprocess.run([sys.executable, "-m", "lgr", "rlp", "start", "--help"],
                          env=lgr_env({"COLUMNS": "200"}), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0
    for name in ("RLP_PORT", "RLP_CA_FILE", "RLP_CERT_FILE", "RLP_KEY_FILE", "ROUTER_ADDRS",
                 "MAX_EGRESS_STREAMS", "LGR_RLP_HOST", "LGR_RLP_BUFFER_SIZE", "METRICS_PORT",
                 "RLP_METRIC_SOURCE_ID"):
        assert name in proc.stdout


def test_bad_settings_exit_with_the_config_code_naming_each_variable():
    env = lgr_env({"RLP_PORT": "x", "MAX_EGRESS_STREAMS": "many"})
    proc = subprocess.run([sys.executable, "-m", "lgr", "rlp", "start"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.CONFIG
    for name in ("RLP_PORT='x'", "MAX_EGRESS_STREAMS='many'", "ROUTER_ADDRS is required",
                 "RLP_CA_FILE is required"):
        assert name in proc.stderr


def test_a_bad_router_address_is_named(pki):
    proc = subprocess.run([sys.executable, "-m", "lgr", "rlp", "start"],
                          env=rlp_env(pki, "127.0.0.1:8082,no-port"),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.CONFIG
    assert "ROUTER_ADDRS: 'no-port' is not host:port" in proc.stderr
