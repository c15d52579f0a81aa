"""`lgr gateway start` as a real process in front of an RLP and router: serving, SIGTERM, errors."""

from __future__ import annotations

import re
import ssl
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
from tests.core.apps.firehose_support import router_and_rlp, run

BOUND = re.compile(r"gateway http bound to: (127\.0\.0\.1:\d+)")


def gateway_env(pki, rlp_addr: str, tokens_file, **extra: str) -> dict[str, str]:
    ca, cert, key = pki.files("gateway")
    return lgr_env({"GATEWAY_ADDR": "127.0.0.1:0", "HTTP_CERT_PATH": str(cert),
                    "HTTP_KEY_PATH": str(key), "LOGS_PROVIDER_ADDR": rlp_addr,
                    "LOGS_PROVIDER_CA_PATH": str(ca), "LOGS_PROVIDER_CLIENT_CERT_PATH": str(cert),
                    "LOGS_PROVIDER_CLIENT_KEY_PATH": str(key), "METRICS_PORT": "-1",
                    "LGR_TOKENS_FILE": str(tokens_file), **extra})


def test_gateway_start_serves_until_sigterm(pki, tmp_path):
    async def scenario():
        admin, _ = tokens.mint(tmp_path / "tokens.json", "admin", admin=True)
        async with router_and_rlp(pki) as (_, rlp):
            env = gateway_env(pki, rlp.address, tmp_path / "tokens.json",
                              LGR_GATEWAY_HEARTBEAT="0.05s")
            async with lgr_process("gateway", "start", env=env) as proc:
                (address,) = await wait_for_line(proc, BOUND)
                verify = ssl.create_default_context(cafile=str(pki.ca))
                async with httpx.AsyncClient(verify=verify, timeout=10) as client:
                    headers = {"Authorization": f"bearer {admin}"}
                    async with client.stream("GET", f"https://{address}/v2/read?log",
                                             headers=headers) as r:
                        assert r.status_code == 200
                        async for line in r.aiter_lines():
                            assert line == "event: heartbeat"
                            break
                assert await terminate(proc) == 0

    run(scenario(), timeout=60)


def test_help_shows_upstreams_env_vars():
    proc = subprocess.run([sys.executable, "-m", "lgr", "gateway", "start", "--help"],
                          env=lgr_env({"COLUMNS": "250"}), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0
    for name in ("GATEWAY_ADDR", "HTTP_CERT_PATH", "HTTP_KEY_PATH", "LOGS_PROVIDER_ADDR",
                 "LOGS_PROVIDER_CA_PATH", "LOGS_PROVIDER_CLIENT_CERT_PATH",
                 "LOGS_PROVIDER_CLIENT_KEY_PATH", "LOGS_PROVIDER_COMMON_NAME", "STREAM_TIMEOUT",
                 "LOG_ADMIN_ADDR", "LOG_ACCESS_ADDR", "LGR_TOKENS_FILE", "METRICS_PORT"):
        assert name in proc.stdout


def test_bad_settings_exit_with_the_config_code_naming_each_variable():
    env = lgr_env({"STREAM_TIMEOUT": "soon", "GATEWAY_ADDR": "nowhere",
                   "LOG_ADMIN_ADDR": "https://uaa", "LOG_ADMIN_CLIENT_SECRET": "s3cret"})
    proc = subprocess.run([sys.executable, "-m", "lgr", "gateway", "start"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.CONFIG
    assert "STREAM_TIMEOUT='soon'" in proc.stderr
    assert "HTTP_CERT_PATH is required" in proc.stderr
    assert "s3cret" not in proc.stderr


def test_an_unusable_certificate_exits_with_the_tls_code(pki, tmp_path):
    env = gateway_env(pki, "127.0.0.1:1", tmp_path / "t.json",
                      HTTP_KEY_PATH=str(pki.key("router")))
    proc = subprocess.run([sys.executable, "-m", "lgr", "gateway", "start"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == ExitCode.TLS, proc.stderr
    assert "is not the key of" in proc.stderr
