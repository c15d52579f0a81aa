"""`lgr agent start` as a real process: env config, serving, SIGTERM, and named config errors."""

from __future__ import annotations

import re
import subprocess
import sys

from lgr.core import envelope as E
from lgr.core._proto.loggregator.v2 import envelope_pb2, ingress_pb2_grpc
from lgr.core.errors import ExitCode
from tests.commands.process_support import (
    lgr_env,
    lgr_process,
    terminate,
    wait_for_line,
)
from tests.conftest import async_wait_until
from tests.core.apps.agent_support import agent_env, client_channel, routers, run

BOUND = re.compile(r"agent grpc bound to: 127\.0\.0\.1:(\d+)")
OURS = ("AGENT_", "ROUTER_", "METRICS_", "LGR_AGENT_")


def test_agent_start_serves_until_sigterm(pki):
    async def scenario():
        async with routers(pki) as (router,):
            env = lgr_env(agent_env(pki, router.address, AGENT_TAGS="deployment:cf"), OURS)
            async with lgr_process("agent", "start", "--metrics-port", "-1", env=env) as proc:
                (port,) = await wait_for_line(proc, BOUND)
                async with client_channel(pki, int(port)) as channel:
                    await ingress_pb2_grpc.IngressStub(channel).Send(
                        envelope_pb2.EnvelopeBatch(batch=[E.log("from a process", source_id="p")]),
                        timeout=5,
                    )
                await async_wait_until(lambda: len(router.envelopes) == 1, timeout=10)
                assert router.envelopes[0].tags["deployment"] == "cf"
                assert await terminate(proc) == 0

    run(scenario(), timeout=60)


def test_bad_settings_exit_with_the_config_code_naming_each_variable():
    env = lgr_env({"AGENT_PORT": "nope", "METRICS_PORT": "99999"}, OURS)
    proc = subprocess.run([sys.executable, "-m", "lgr", "agent", "start"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.CONFIG
    for name in ("AGENT_PORT='nope'", "ROUTER_ADDR is required", "AGENT_CA_FILE is required"):
        assert name in proc.stderr


def test_a_missing_certificate_is_named_with_its_variable(pki, tmp_path):
    env = lgr_env(agent_env(pki, "127.0.0.1:1", AGENT_CERT_FILE=str(tmp_path / "missing.crt")),
                  OURS)
    proc = subprocess.run([sys.executable, "-m", "lgr", "agent", "start"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.TLS
    assert "AGENT_CERT_FILE" in proc.stderr and "missing.crt" in proc.stderr


def test_flags_override_env():
    env = lgr_env({"AGENT_PORT": "nope"}, OURS)
    proc = subprocess.run([sys.executable, "-m", "lgr", "agent", "start", "--port", "also-bad"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.CONFIG
    assert "'also-bad'" in proc.stderr and "'nope'" not in proc.stderr


def test_an_agent_restarted_at_once_after_sigterm_binds_the_same_ports(pki):
    """With an emitter stream open, SIGTERM ends the agent without waiting out the stream, and a
    new agent binds the same gRPC and UDP ports right away (nothing holds them)."""
    from lgr.core.probe import free_port

    udp_bound = re.compile(r"agent udp bound to: 127\.0\.0\.1:(\d+)")

    async def scenario():
        async with routers(pki) as (router,):
            grpc_port, udp_port = free_port(), free_port(proto="udp")
            env = lgr_env(agent_env(pki, router.address, AGENT_PORT=str(grpc_port),
                                    AGENT_INCOMING_UDP_PORT=str(udp_port)), OURS)
            async with lgr_process("agent", "start", "--metrics-port", "-1", env=env) as first:
                await wait_for_line(first, BOUND, udp_bound)
                async with client_channel(pki, grpc_port) as channel:
                    call = ingress_pb2_grpc.IngressStub(channel).BatchSender()
                    await call.write(envelope_pb2.EnvelopeBatch(batch=[E.log("open", source_id="p")]))
                    assert await terminate(first) == 0
                    call.cancel()
            async with lgr_process("agent", "start", "--metrics-port", "-1", env=env) as second:
                ports = await wait_for_line(second, BOUND, udp_bound)
                assert ports == [str(grpc_port), str(udp_port)]
                assert await terminate(second) == 0

    run(scenario(), timeout=60)


def test_a_boolean_flag_takes_no_value(pki):
    async def scenario():
        async with routers(pki) as (router,):
            env = lgr_env(agent_env(pki, router.address), OURS)
            args = ("agent", "start", "--disable-udp", "--port", "0", "--metrics-port", "-1")
            async with lgr_process(*args, env=env) as proc:
                (port,) = await wait_for_line(proc, BOUND)
                async with client_channel(pki, int(port)) as channel:  # serving: start is over
                    await ingress_pb2_grpc.IngressStub(channel).Send(
                        envelope_pb2.EnvelopeBatch(batch=[E.log("x", source_id="p")]), timeout=5)
                assert await terminate(proc) == 0
                rest = (await proc.stderr.read()).decode()
        assert "udp bound to" not in rest

    run(scenario(), timeout=60)


def test_help_names_each_value_and_no_python_type():
    proc = subprocess.run([sys.executable, "-m", "lgr", "agent", "start", "--help"], capture_output=True,
                          text=True, timeout=30, env={**lgr_env({}, OURS), "COLUMNS": "200"})
    rows = {line.split()[1]: line.split()[2] for line in proc.stdout.splitlines()
            if line.startswith("│ --")}
    assert rows["--port"] == "PORT" and rows["--udp-port"] == "PORT"
    assert rows["--router-addr"] == "HOST:PORT[,...]" and rows["--ca-file"] == "FILE"
    assert rows["--tags"] == "KEY:VALUE,..." and rows["--ingress-buffer-size"] == "N"
    assert rows["--disable-udp"] == "do"  # a flag: its help follows at once, no value column
    assert "<str>" not in proc.stdout and "<bool>" not in proc.stdout
