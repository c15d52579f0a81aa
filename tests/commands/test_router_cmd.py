"""`lgr router start` as a real process: env config, serving, SIGTERM, --help and config errors."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys

from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.errors import ExitCode
from tests.conftest import async_wait_until
from tests.core.apps.firehose_support import Collector, channel, log_envelope, run, selectors, send

BOUND = re.compile(r"router grpc bound to: (127\.0\.0\.1:\d+)")
METRICS = re.compile(r"router metrics bound to: (https://\S+)")


def lgr_env(extra: dict[str, str]) -> dict[str, str]:
    """os.environ without any setting of ours, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "LGR_DEBUG" and not k.startswith(
        ("ROUTER_", "RLP_", "METRICS_", "LGR_ROUTER_", "LGR_RLP_", "INGRESS_", "MAX_EGRESS"))}
    env.update(extra)
    return env


def router_env(pki, **extra: str) -> dict[str, str]:
    ca, cert, key = pki.files("router")
    return lgr_env({"ROUTER_CA_FILE": str(ca), "ROUTER_CERT_FILE": str(cert),
                    "ROUTER_KEY_FILE": str(key), "ROUTER_PORT": "0", "METRICS_PORT": "0",
                    **extra})


async def wait_for_line(proc: asyncio.subprocess.Process, *patterns: re.Pattern[str]) -> list[str]:
    """Read the process's stderr until every pattern matched a line; their first groups."""
    seen: list[str] = []
    found: dict[re.Pattern[str], str] = {}
    while len(found) < len(patterns):
        line = (await asyncio.wait_for(proc.stderr.readline(), 15)).decode()
        assert line, f"process exited early: {''.join(seen)}"
        seen.append(line)
        for pattern in patterns:
            if match := pattern.search(line):
                found[pattern] = match.group(1)
    return [found[p] for p in patterns]


def test_router_start_serves_until_sigterm(pki):
    async def scenario():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lgr", "router", "start", env=router_env(pki),
            stderr=asyncio.subprocess.PIPE)
        try:
            address, metrics_url = await wait_for_line(proc, BOUND, METRICS)
            assert metrics_url.endswith("/metrics")
            ch = channel(pki, address, "doppler")
            c = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            await send(ch, [log_envelope(0)])
            await async_wait_until(lambda: len(c.envelopes) == 1, timeout=10)
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 15) == 0
            await ch.close()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    run(scenario(), timeout=60)


def test_help_shows_every_env_var():
    proc = subprocess.run([sys.executable, "-m", "lgr", "router", "start", "--help"],
                          env=lgr_env({"COLUMNS": "200"}), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0
    for name in ("ROUTER_PORT", "ROUTER_CA_FILE", "ROUTER_CERT_FILE", "ROUTER_KEY_FILE",
                 "INGRESS_BUFFER_SIZE", "LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE", "LGR_ROUTER_HOST",
                 "METRICS_PORT", "METRICS_CA_FILE_PATH", "METRICS_CERT_FILE_PATH",
                 "METRICS_KEY_FILE_PATH"):
        assert name in proc.stdout


def test_bad_settings_exit_with_the_config_code_naming_each_variable():
    env = lgr_env({"ROUTER_PORT": "nope", "INGRESS_BUFFER_SIZE": "0", "METRICS_PORT": "70000"})
    proc = subprocess.run([sys.executable, "-m", "lgr", "router", "start"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.CONFIG
    for name in ("ROUTER_PORT='nope'", "ROUTER_CA_FILE is required", "ROUTER_CERT_FILE is required",
                 "ROUTER_KEY_FILE is required"):
        assert name in proc.stderr


def test_a_missing_certificate_is_named_with_its_variable(pki, tmp_path):
    env = router_env(pki, ROUTER_KEY_FILE=str(tmp_path / "missing.key"))
    proc = subprocess.run([sys.executable, "-m", "lgr", "router", "start"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.TLS
    assert "ROUTER_KEY_FILE" in proc.stderr and "missing.key" in proc.stderr
