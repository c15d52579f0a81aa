"""`lgr tc start` as a real process, and the traffic controller's configuration."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from lgr.core.apps.router.app import Router
from lgr.core.apps.tc.config import TcConfig
from lgr.core.config import load_config
from lgr.core.errors import ConfigError, ExitCode
from tests.commands.process_support import (
    lgr_env,
    lgr_process,
    terminate,
    wait_for_line,
)
from tests.core.apps.firehose_support import router_config, run, started
from tests.core.apps.tc_support import app_log, auth, make_tokens, publish, receive, subscribed

BOUND = re.compile(r"tc ws bound to: 127\.0\.0\.1:(\d+)")
OURS = ("ROUTER_", "TRAFFIC_CONTROLLER_", "METRICS_", "LGR_TC_", "LGR_TOKENS_FILE",
        "AGENT_GRPC_ADDRESS", "CC_", "LGR_DEBUG")


def tc_env(pki, routers: str, tokens_file: str, **extra: str) -> dict[str, str]:
    ca, cert, key = pki.files("tc")
    return {"ROUTER_ADDRS": routers, "ROUTER_CA_FILE": str(ca), "ROUTER_CERT_FILE": str(cert),
            "ROUTER_KEY_FILE": str(key), "LGR_TOKENS_FILE": tokens_file,
            "TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT": "0", "METRICS_PORT": "-1", **extra}


def test_tc_start_serves_websockets_until_sigterm(pki, tmp_path):
    from websockets.asyncio.client import connect

    tokens = make_tokens(tmp_path)

    async def scenario():
        router = Router(router_config(pki))
        async with started(router):
            env = lgr_env(tc_env(pki, router.address, str(tokens.path)), OURS)
            async with lgr_process("tc", "start", "--keepalive", "10s", env=env) as proc:
                (port,) = await wait_for_line(proc, BOUND)
                async with connect(f"ws://127.0.0.1:{port}/firehose/cmd",
                                   additional_headers=auth(tokens.admin)) as conn:
                    await subscribed([router], 2)
                    await publish(pki, router, [app_log("app-a", "from a process")])
                    (env_,) = await receive(conn, 1)
                    assert env_.logMessage.message == b"from a process"
                assert await terminate(proc) == 0

    run(scenario(), timeout=50)


def test_bad_settings_exit_with_the_config_code_naming_each_variable():
    env = lgr_env({"TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT": "nope",
                   "LGR_TC_SLOW_CONSUMER_TIMEOUT": "soon"}, OURS)
    proc = subprocess.run([sys.executable, "-m", "lgr", "tc", "start"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.CONFIG
    for name in ("TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT='nope'",
                 "LGR_TC_SLOW_CONSUMER_TIMEOUT='soon'", "ROUTER_ADDRS is required",
                 "ROUTER_CA_FILE is required"):
        assert name in proc.stderr


def test_help_names_upstreams_variables():
    proc = subprocess.run([sys.executable, "-m", "lgr", "tc", "start", "--help"],
                          env=lgr_env({"COLUMNS": "200"}, OURS), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0
    for name in ("TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT", "ROUTER_ADDRS", "ROUTER_CA_FILE",
                 "TRAFFIC_CONTROLLER_UAA_HOST", "LGR_TOKENS_FILE", "AGENT_GRPC_ADDRESS"):
        assert name in proc.stdout


def config(**env: str) -> TcConfig:
    base = {"ROUTER_ADDRS": "127.0.0.1:8082", "ROUTER_CA_FILE": "ca", "ROUTER_CERT_FILE": "c",
            "ROUTER_KEY_FILE": "k"}
    return load_config(TcConfig, env={**base, **env})


def test_defaults_are_upstreams():
    cfg = config()
    assert (cfg.host, cfg.port, cfg.metrics_port) == ("127.0.0.1", 8081, 14828)
    assert (cfg.slow_consumer_timeout, cfg.keepalive, cfg.buffer_size) == (5.0, 30.0, 1000)
    assert (cfg.recent_logs, cfg.recent_apps, cfg.metric_interval) == (100, 1000, 60.0)
    assert not cfg.serves_tls and cfg.auth_options().mode == "tokens"
    assert cfg.metrics_tls == ("ca", "c", "k")


def test_uaa_settings_choose_upstream_authorization():
    cfg = config(TRAFFIC_CONTROLLER_UAA_HOST="https://uaa.example.com",
                 TRAFFIC_CONTROLLER_UAA_CLIENT="doppler", TRAFFIC_CONTROLLER_UAA_CLIENT_SECRET="s",
                 TRAFFIC_CONTROLLER_API_HOST="https://api.example.com", CC_CA_FILE="cc-ca",
                 TRAFFIC_CONTROLLER_SYSTEM_DOMAIN="example.com")
    options = cfg.auth_options()
    assert options.mode == "upstream"
    assert (options.uaa_addr, options.uaa_client_id, options.capi_addr, options.capi_ca_path) == (
        "https://uaa.example.com", "doppler", "https://api.example.com", "cc-ca")
    assert cfg.cookie_domain == "doppler.example.com"
    assert config(TRAFFIC_CONTROLLER_DISABLE_ACCESS_CONTROL="true").auth_options().mode == (
        "disabled")


@pytest.mark.parametrize("env, problem", [
    ({"LGR_TC_HOST": "0.0.0.0"}, "may only listen on loopback"),
    ({"TRAFFIC_CONTROLLER_OUTGOING_CERT_FILE": "c.crt"}, "go together"),
    ({"ROUTER_ADDRS": "nohost"}, "ROUTER_ADDRS: 'nohost' is not host:port"),
    ({"LGR_TC_KEEPALIVE": "0s"}, "LGR_TC_KEEPALIVE=0.0: must be positive"),
    ({"LGR_TC_BUFFER_SIZE": "0"}, "LGR_TC_BUFFER_SIZE=0: must be at least 1"),
    ({"TRAFFIC_CONTROLLER_UAA_HOST": "https://uaa"}, "TRAFFIC_CONTROLLER_UAA_CLIENT is required"),
])
def test_bad_combinations_are_named(env, problem):
    with pytest.raises(ConfigError) as exc:
        config(**env)
    assert any(problem in p for p in exc.value.problems), exc.value.problems


def test_a_certificate_allows_any_host():
    cfg = config(LGR_TC_HOST="0.0.0.0", TRAFFIC_CONTROLLER_OUTGOING_CERT_FILE="c.crt",
                 TRAFFIC_CONTROLLER_OUTGOING_KEY_FILE="c.key")
    assert cfg.serves_tls
