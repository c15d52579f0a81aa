"""`lgr tail --via gateway` and `lgr tail --recent` as real subprocesses against a real router, RLP,
rlp gateway and log cache; the token and addresses found through a running `lgr up`'s up.json."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os

import pytest

from lgr.core import envelope, up_state
from lgr.core.apps.gateway.app import Gateway
from lgr.core.errors import ExitCode
from tests.commands.client_env import client_env, run_lgr
from tests.commands.test_tail_history_cmd import T, app_logs, filled, lgr, lines_of
from tests.conftest import async_wait_until
from tests.core.apps.cache_support import NS, cache_stack
from tests.core.apps.firehose_support import TIMEOUT, channel, run, send, started
from tests.core.apps.gateway_support import gateway_config


@contextlib.asynccontextmanager
async def full_stack(pki, tmp_path):
    """Router → RLP → log cache, and a gateway on the same RLP (tokens shared)."""
    async with cache_stack(pki, tmp_path) as stack:
        gateway = Gateway(gateway_config(pki, stack.rlp.address, stack.tokens.path))
        async with started(gateway):
            stack.gateway = gateway
            yield stack


def write_up_json(state_dir, pki, **extra) -> None:
    """A running `lgr up` (this process) whose up.json carries ``extra`` keys, as `lgr up` writes."""
    path = up_state.write_state(state_dir, up_state.UpState(
        pid=os.getpid(), started_at=up_state.now_iso(), state_dir=str(state_dir),
        certs_dir=str(pki.ca.parent), log_dir=str(state_dir / "logs")))
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, **extra}))


async def publish(pki, stack, envs) -> None:
    ingress = channel(pki, stack.router.address, "doppler", name="agent")
    await send(ingress, envs)
    await ingress.close()


def test_via_gateway_streams_the_firehose_with_the_same_rendering(pki, tmp_path):
    async def body():
        async with full_stack(pki, tmp_path) as stack:
            # The cache may read the envelopes before or after the tail reads its history: either
            # way each shows once (from the history, or from the stream).
            env = client_env(pki, tmp_path, LGR_GATEWAY_ADDR=stack.gateway.url,
                             LGR_CACHE_ADDR=stack.cache.url, LGR_TOKEN=stack.tokens.admin)
            sent = [envelope.log(f"hi {i}", source_id=f"app-{i}", instance_id="0",
                                 timestamp=T + i * NS, tags={"source_type": "APP/PROC/WEB"})
                    for i in range(2)]
            sent.append(envelope.counter("requests", total=5, source_id="app-0", timestamp=T + 5 * NS))
            tail = lgr("tail", "--via", "gateway", "-t", "log", "--count", "2", "--timeout", "20",
                       env=env)
            task = asyncio.ensure_future(tail)
            # The cache's nozzle holds one router subscription, the tail's stream the second.
            await async_wait_until(lambda: len(stack.router.egress.streams) == 2, timeout=TIMEOUT)
            await publish(pki, stack, sent)
            code, out, err = await task
            assert code == 0, err
            assert out == lines_of(sent[:2])

    run(body())


def test_history_then_gateway_stream_with_the_token_and_addresses_of_lgr_up(pki, tmp_path):
    async def body():
        async with full_stack(pki, tmp_path) as stack:
            token_file = tmp_path / "admin.token"
            token_file.write_text(stack.tokens.admin + "\n")
            token_file.chmod(0o600)
            write_up_json(tmp_path, pki, token_file=str(token_file), gateway_addr=stack.gateway.url,
                          cache_addr=stack.cache.url)
            before = app_logs(3)
            await filled(pki, stack, before)
            env = client_env(pki, tmp_path)  # no LGR_TOKEN, no addresses: up.json's
            task = asyncio.ensure_future(
                lgr("tail", "app-1", "-n", "2", "-f", "--via", "gateway", "--count", "3", env=env))
            await async_wait_until(lambda: len(stack.router.egress.streams) == 2, timeout=TIMEOUT)
            after = app_logs(1, start=T + 100 * NS) + app_logs(1, "app-2")
            await publish(pki, stack, after)
            code, out, err = await task
            assert code == 0, err
            assert out == lines_of(before[-2:] + after[:1])
            assert "2 from the log cache, then received 1 envelopes in" in err.decode()

    run(body())


def test_a_token_the_gateway_refuses_is_one_clear_error(pki, tmp_path):
    async def body():
        async with full_stack(pki, tmp_path) as stack:
            env = client_env(pki, tmp_path, LGR_GATEWAY_ADDR=stack.gateway.url,
                             LGR_CACHE_ADDR=stack.cache.url, LGR_TOKEN=stack.tokens.reader)
            code, out, err = await lgr("tail", "--via", "gateway", env=env)
            assert code == ExitCode.UNAVAILABLE and out == b""
            lines = [line for line in err.decode().splitlines() if line.strip()]
            assert lines[0] == (f"error: the rlp gateway at {stack.gateway.url} refused the token "
                                "for this request (404)")
            assert "Traceback" not in err.decode()

    run(body())


def test_recent_prints_the_newest_logs_only_and_exits(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            logs = app_logs(4) + app_logs(2, "app-2", start=T + NS // 2)
            metrics = [envelope.counter("requests", total=5, source_id="app-1", timestamp=T + 9 * NS),
                       envelope.event("crash", "exit 1", source_id="app-1", timestamp=T + 10 * NS)]
            await filled(pki, stack, logs + metrics)
            env = client_env(pki, tmp_path, LGR_CACHE_ADDR=stack.cache.url, LGR_TOKEN=stack.tokens.admin)
            code, out, err = await lgr("tail", "app-1", "--recent", env=env)
            assert code == 0, err
            assert out == lines_of(logs[:4])
            code, out, err = await lgr("tail", "app-1", "--app", "app-2", "--recent", "--json", env=env)
            assert code == 0, err
            got = [json.loads(line) for line in out.splitlines()]
            assert [(g["source_id"], int(g["timestamp"])) for g in got] == sorted(
                [(e.source_id, e.timestamp) for e in logs], key=lambda p: p[1])

    run(body())


@pytest.mark.parametrize(("args", "message"), [
    (["--recent"], "error: --recent needs a SOURCE_ID"),
    (["app-1", "--recent", "-f", "-n", "3"], "it cannot be used with --follow, --lines"),
    (["app-1", "--recent", "-t", "counter"], "it cannot be used with --envelope-type"),
    (["--via", "carrier-pigeon"], "Invalid value for '--via'"),
])
def test_recent_and_via_usage_errors(pki, tmp_path, args, message):
    proc = run_lgr("tail", *args, env=client_env(pki, tmp_path, COLUMNS="200"))
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert message in proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
