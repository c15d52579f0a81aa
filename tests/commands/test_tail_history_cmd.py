"""`lgr tail SOURCE` as a real subprocess: history from a real log cache filled through a real router
and RLP, then (-f) the live stream from that RLP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from lgr.core import envelope, render
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.errors import ExitCode
from tests.commands.client_env import client_env, run_lgr
from tests.commands.process_support import lgr_process
from tests.conftest import async_wait_until
from tests.core.apps.cache_support import NS, cache_stack
from tests.core.apps.firehose_support import TIMEOUT, channel, run, send

T = 1_700_000_000 * NS


def app_logs(n: int, source_id: str = "app-1", start: int = T) -> list[envelope_pb2.Envelope]:
    return [envelope.log(f"line {i}", source_id=source_id, instance_id="0", timestamp=start + i * NS,
                         tags={"source_type": "APP/PROC/WEB"}) for i in range(n)]


def lines_of(envs: list[envelope_pb2.Envelope]) -> bytes:
    return b"".join(render.pretty(e, tz=dt.timezone.utc).to_bytes() for e in envs)


def stack_env(pki, tmp_path, stack, token: str | None = None) -> dict[str, str]:
    return client_env(pki, tmp_path, LGR_CACHE_ADDR=stack.cache.url, LGR_RLP_ADDR=stack.rlp.address,
                      LGR_TOKEN=token if token is not None else stack.tokens.admin)


async def lgr(*args: str, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    async with lgr_process(*args, env=env, stdout=asyncio.subprocess.PIPE) as proc:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, out, err


async def filled(pki, stack, envs: list[envelope_pb2.Envelope]) -> None:
    """Send ``envs`` through the router and wait until the cache holds them."""
    await async_wait_until(lambda: len(stack.router.egress.streams) == 1, timeout=TIMEOUT)
    before = stack.cache.store.size
    ingress = channel(pki, stack.router.address, "doppler", name="agent")
    await send(ingress, envs)
    await ingress.close()
    await async_wait_until(lambda: stack.cache.store.size == before + len(envs), timeout=TIMEOUT)


def test_tail_n_5_prints_the_last_five_lines_an_app_logged_before_the_tail(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            logged = app_logs(8)
            await filled(pki, stack, logged + app_logs(3, "app-2"))
            code, out, err = await lgr("tail", "app-1", "-n", "5", env=stack_env(pki, tmp_path, stack))
            assert code == 0, err
            assert out == lines_of(logged[-5:])
            assert out.splitlines()[0] == b"   2023-11-14T22:13:23.00+0000 [APP/PROC/WEB/0] OUT line 3"
            code, out, _ = await lgr("tail", "app-1", env=stack_env(pki, tmp_path, stack))
            assert out == lines_of(logged)  # ten by default: all eight
            code, out, _ = await lgr("tail", "app-1", "--app", "app-2", "-n", "4", "--json",
                                     "--start-time", str(T + NS), "--end-time", str(T + 3 * NS),
                                     env=stack_env(pki, tmp_path, stack))
            got = [json.loads(line) for line in out.splitlines()]
            assert [(g["source_id"], g["timestamp"]) for g in got] == [
                ("app-1", str(T + NS)), ("app-2", str(T + NS)), ("app-1", str(T + 2 * NS)),
                ("app-2", str(T + 2 * NS))]

    run(body())


def test_follow_prints_history_then_what_is_logged_after(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            before = app_logs(4)
            await filled(pki, stack, before)
            async with lgr_process("tail", "app-1", "-n", "2", "-f", "--count", "4",
                                   env=stack_env(pki, tmp_path, stack),
                                   stdout=asyncio.subprocess.PIPE) as proc:
                first = await asyncio.wait_for(proc.stdout.readline(), 20)
                second = await asyncio.wait_for(proc.stdout.readline(), 20)
                assert first + second == lines_of(before[-2:])
                # The tail's own stream is in place once the router holds two subscriptions.
                await async_wait_until(lambda: len(stack.router.egress.streams) == 2, timeout=TIMEOUT)
                after = app_logs(2, start=T + 100 * NS) + app_logs(1, "app-2")
                ingress = channel(pki, stack.router.address, "doppler", name="agent")
                await send(ingress, after)
                await ingress.close()
                rest, err = await asyncio.wait_for(proc.communicate(), 20)
            assert proc.returncode == 0, err
            assert rest == lines_of(after[:2])
            assert "2 from the log cache, then received 2 envelopes in" in err.decode()

    run(body())


def test_types_classes_and_the_name_filter_reach_the_cache(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            envs = app_logs(2) + [
                envelope.counter("requests", total=5, source_id="app-1", timestamp=T + 10 * NS),
                envelope.gauge({"cpu": 1.5, "memory": 3.0}, source_id="app-1", timestamp=T + 11 * NS),
                envelope.event("crash", "exit 1", source_id="app-1", timestamp=T + 12 * NS),
            ]
            await filled(pki, stack, envs)
            env = stack_env(pki, tmp_path, stack)
            _, out, _ = await lgr("tail", "app-1", "-c", "metrics", env=env)
            assert [line.split(b"] ", 1)[1] for line in out.splitlines()] == [
                b"COUNTER requests:5", b"GAUGE cpu:1.500000  memory:3.000000 "]
            _, out, _ = await lgr("tail", "app-1", "-t", "EVENT", "-t", "log", "-n", "2", env=env)
            assert [line.split(b"] ", 1)[1] for line in out.splitlines()] == [b"OUT line 1", b"EVENT crash:exit 1"]
            _, out, _ = await lgr("tail", "app-1", "--name-filter", "^mem", env=env)
            assert [line.split(b"] ", 1)[1] for line in out.splitlines()] == [b"GAUGE memory:3.000000 "]
            _, out, _ = await lgr("tail", "app-1", "--counter-name", "requests", "-n", "1", env=env)
            assert out.endswith(b"COUNTER requests:5\n")

    run(body())


def test_a_token_the_cache_refuses_is_one_error_line(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            env = stack_env(pki, tmp_path, stack, token=stack.tokens.reader)
            code, out, err = await lgr("tail", "secret-app", env=env)
            assert code == ExitCode.UNAVAILABLE and out == b""
            lines = [line for line in err.decode().splitlines() if line.strip()]
            assert lines[0] == f"error: the log cache at {stack.cache.url} refused to serve source 'secret-app' (404)"

    run(body())


@pytest.mark.parametrize(("args", "message"), [
    (["app-1", "-t", "log", "-c", "logs"], "error: --envelope-type cannot be used with --envelope-class"),
    (["app-1", "--start-time", "5", "--end-time", "4"], "error: Invalid date/time range."),
    (["app-1", "--name-filter", "(x"], "error: --name-filter '(x' is not a valid regular expression"),
    (["app-1", "-n", "1001"], "Invalid value for '--lines' / '-n': Input should be less than or equal to 1000"),
])
def test_usage_errors(pki, tmp_path, args, message):
    proc = run_lgr("tail", *args, env=client_env(pki, tmp_path, COLUMNS="200"))
    assert proc.returncode == ExitCode.USAGE
    assert message in proc.stderr.decode()
    assert b"Traceback" not in proc.stderr


def test_a_source_with_no_data_is_named_on_stderr_with_what_to_do(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            await filled(pki, stack, app_logs(2))
            code, out, err = await lgr("tail", "nobody", env=stack_env(pki, tmp_path, stack))
            assert (code, out) == (0, b"")
            assert err.decode().strip() == (f"the log cache at {stack.cache.url} holds nothing for "
                                            "nobody; add -f to wait for new envelopes")

    run(body())


def test_follow_of_a_source_with_no_data_says_what_it_waits_for(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            await filled(pki, stack, app_logs(2))
            async with lgr_process("tail", "--app", "nobody", "-f", "--count", "1",
                                   env=stack_env(pki, tmp_path, stack),
                                   stdout=asyncio.subprocess.PIPE) as proc:
                line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode().strip()
                assert line == (f"the log cache at {stack.cache.url} holds nothing for nobody; "
                                f"waiting for new envelopes from the rlp at {stack.rlp.address} "
                                "(Ctrl-C to stop)")
                await async_wait_until(lambda: len(stack.router.egress.streams) == 2, timeout=TIMEOUT)
                ingress = channel(pki, stack.router.address, "doppler", name="agent")
                await send(ingress, app_logs(1, "nobody"))
                await ingress.close()
                out, _ = await asyncio.wait_for(proc.communicate(), 20)
            assert proc.returncode == 0 and out == lines_of(app_logs(1, "nobody"))

    run(body())
