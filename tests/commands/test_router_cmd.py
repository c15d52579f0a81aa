"""`lgr router start` as a real process: env config, serving, SIGTERM, --help and config errors."""

from __future__ import annotations

import asyncio
import re
import signal
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
from tests.core.apps.firehose_support import Collector, channel, log_envelope, run, selectors, send

BOUND = re.compile(r"router grpc bound to: (127\.0\.0\.1:\d+)")
METRICS = re.compile(r"router metrics bound to: (https://\S+)")


def router_env(pki, **extra: str) -> dict[str, str]:
    ca, cert, key = pki.files("router")
    return lgr_env({"ROUTER_CA_FILE": str(ca), "ROUTER_CERT_FILE": str(cert),
                    "ROUTER_KEY_FILE": str(key), "ROUTER_PORT": "0", "METRICS_PORT": "0",
                    **extra})


def test_router_start_serves_until_sigterm(pki):
    async def scenario():
        async with lgr_process("router", "start", env=router_env(pki)) as proc:
            address, metrics_url = await wait_for_line(proc, BOUND, METRICS)
            assert metrics_url.endswith("/metrics")
            ch = channel(pki, address, "doppler")
            c = Collector(ch, egress_pb2.EgressBatchRequest(selectors=selectors("log")))
            await c.ready()
            await send(ch, [log_envelope(0)])
            await async_wait_until(lambda: len(c.envelopes) == 1, timeout=10)
            assert await terminate(proc) == 0
            await ch.close()

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


def _traced_tcp_files(pki, experiments: str | None) -> set[str]:
    """Start `lgr router start` with gRPC's tcp trace on, connect once; the source files traced."""
    env = router_env(pki, GRPC_TRACE="tcp", GRPC_VERBOSITY="debug")
    env.pop("GRPC_EXPERIMENTS", None)
    if experiments is not None:
        env["GRPC_EXPERIMENTS"] = experiments
    files: set[str] = set()
    trace_file = re.compile(r"\s(\w+\.cc):\d+\]")

    async def scenario():
        async with lgr_process("router", "start", env=env) as proc:
            (address,) = await wait_for_line(proc, BOUND)
            ch = channel(pki, address, "doppler")
            await asyncio.wait_for(ch.channel_ready(), 10)
            await ch.close()
            proc.send_signal(signal.SIGTERM)
            while line := (await asyncio.wait_for(proc.stderr.readline(), 15)).decode():
                if match := trace_file.search(line):
                    files.add(match.group(1))
            assert await asyncio.wait_for(proc.wait(), 15) == 0

    run(scenario(), timeout=60)
    return files


def test_the_router_does_socket_io_on_grpcs_poller_unless_told_otherwise(pki):
    from lgr.core.grpc_tuning import VERIFIED, grpcio_release

    default = _traced_tcp_files(pki, None)
    kept = _traced_tcp_files(pki, "")  # GRPC_EXPERIMENTS= : the user keeps gRPC's own defaults
    assert kept and "tcp_posix.cc" not in kept  # EventEngine endpoints
    if grpcio_release() in VERIFIED:
        assert "tcp_posix.cc" in default  # the I/O manager's endpoint: one wake-up less per message
    else:
        assert default == kept
