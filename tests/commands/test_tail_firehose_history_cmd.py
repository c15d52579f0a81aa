"""`lgr tail` without a source as a real subprocess: the newest lines of every source from a real log
cache (filled through a real router and RLP), then the live firehose from that RLP; and with no
cache to read, a note and the live stream alone."""

from __future__ import annotations

import asyncio
import re
import time

from lgr.core import envelope
from lgr.core.apps.router.app import Router
from tests.commands.client_env import client_env
from tests.commands.process_support import lgr_process
from tests.commands.test_tail_history_cmd import filled, lgr, lines_of, stack_env
from tests.conftest import async_wait_until
from tests.core.apps.cache_support import NS, cache_stack
from tests.core.apps.firehose_support import (
    TIMEOUT,
    channel,
    router_and_rlp,
    run,
    send,
)

WEB = {"source_type": "APP/PROC/WEB"}


async def publish(pki, router: Router, envs) -> None:
    ingress = channel(pki, router.address, "doppler", name="agent")
    await send(ingress, envs)
    await ingress.close()


def test_a_line_logged_before_the_tail_shows_then_the_live_firehose(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            now = time.time_ns()
            before = [
                envelope.counter("requests", total=3, source_id="router", timestamp=now - 9 * NS),
                envelope.log("starting", source_id="app-2", instance_id="1", timestamp=now - 2 * NS, tags=WEB),
                envelope.log("ready", source_id="app-2", instance_id="1", timestamp=now - NS, tags=WEB),
                envelope.log("hi", source_id="app-1", instance_id="0", timestamp=now, tags=WEB),
            ]
            await filled(pki, stack, before)
            async with lgr_process("tail", "-n", "3", "--count", "5", "--timeout", "20",
                                   env=stack_env(pki, tmp_path, stack),
                                   stdout=asyncio.subprocess.PIPE) as proc:
                history = [await asyncio.wait_for(proc.stdout.readline(), 20) for _ in range(3)]
                assert b"".join(history) == lines_of(before[1:])
                assert re.fullmatch(rb" *\S+ \[APP/PROC/WEB/0\] OUT hi\n", history[-1]), history
                # The tail's own stream is in place once the router holds two subscriptions.
                await async_wait_until(lambda: len(stack.router.egress.streams) == 2, timeout=TIMEOUT)
                after = [envelope.log(f"live {i}", source_id="app-3", instance_id="0",
                                      timestamp=now + (i + 1) * NS, tags=WEB) for i in range(2)]
                await publish(pki, stack.router, after)
                rest, err = await asyncio.wait_for(proc.communicate(), 20)
            assert proc.returncode == 0, err
            assert rest == lines_of(after)
            assert "3 from the log cache, then received 2 envelopes in" in err.decode()

    run(body())


def test_the_firehose_history_keeps_to_the_type_filters(pki, tmp_path):
    async def body():
        async with cache_stack(pki, tmp_path) as stack:
            now = time.time_ns()
            metrics = [envelope.counter("requests", total=3, source_id="router", timestamp=now - 9 * NS),
                       envelope.gauge({"cpu": 1.5}, source_id="agent", timestamp=now - 8 * NS)]
            logs = [envelope.log(f"line {i}", source_id=f"app-{i}", timestamp=now - i * NS, tags=WEB)
                    for i in range(3)]
            await filled(pki, stack, metrics + logs)
            code, out, err = await lgr("tail", "-c", "metrics", "-n", "2", "--count", "2", "--timeout", "20",
                                       env=stack_env(pki, tmp_path, stack))
            assert code == 0, err
            assert out == lines_of(metrics)

    run(body())


def test_without_a_log_cache_it_notes_that_and_streams_the_live_firehose(pki, tmp_path):
    async def body():
        async with router_and_rlp(pki) as (router, rlp):
            env = client_env(pki, tmp_path, LGR_RLP_ADDR=rlp.address, LGR_CACHE_ADDR="127.0.0.1:1")
            task = asyncio.ensure_future(lgr("tail", "--count", "1", "--timeout", "20", env=env))
            await async_wait_until(lambda: len(router.egress.streams) == 1, timeout=TIMEOUT)
            sent = [envelope.log("hi", source_id="app-1", instance_id="0", timestamp=time.time_ns(),
                                 tags=WEB)]
            await publish(pki, router, sent)
            code, out, err = await task
        assert code == 0, err
        assert out == lines_of(sent)
        status = [line for line in err.decode().splitlines() if line.strip()]
        assert status[0].startswith("no history: cannot reach the log cache at http://127.0.0.1:1")
        assert status[0].endswith("; following the live stream only")
        assert status[-1].startswith("0 from the log cache, then received 1 envelopes in")

    run(body())
