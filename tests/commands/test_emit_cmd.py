"""`lgr emit` as a real subprocess against a test agent (mTLS BatchSender) on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.errors import ExitCode
from tests.commands.client_env import client_env, error_lines, run_lgr
from tests.core.clients.fakes import FakeIngress, ServerThread


@pytest.fixture
def agent(pki):
    with ServerThread(FakeIngress(), pki, "agent") as server:
        yield server


@pytest.fixture
def env(pki, agent, tmp_path):
    return client_env(pki, tmp_path, LGR_AGENT_ADDR=f"127.0.0.1:{agent.port}")


def test_emit_log_sends_one_envelope_with_every_flag(agent, env):
    proc = run_lgr("emit", "log", "hello <world>", "--stderr", "--source-id", "app", "-i", "3",
                   "--tag", "k=v", "--tag", "e=", "--source-type", "APP/PROC/WEB", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    assert error_lines(proc) == [f"sent 1 log envelope to the agent at 127.0.0.1:{agent.port}"]
    (env_,) = agent.servicer.envelopes
    assert (env_.source_id, env_.instance_id, env_.log.payload, env_.log.type) == (
        "app", "3", b"hello <world>", envelope_pb2.Log.ERR)
    assert dict(env_.tags) == {"source_type": "APP/PROC/WEB", "k": "v", "e": ""}
    assert env_.timestamp > 0


def test_emit_log_dash_sends_each_stdin_line(agent, env):
    proc = run_lgr("emit", "log", "-", env=env, stdin=b"one\ntwo\r\n\n\xffraw\nlast")
    assert proc.returncode == 0, proc.stderr
    assert [e.log.payload for e in agent.servicer.envelopes] == [b"one", b"two", b"", b"\xffraw", b"last"]
    assert {e.source_id for e in agent.servicer.envelopes} == {"lgr-emit"}
    assert {e.tags["source_type"] for e in agent.servicer.envelopes} == {"EMIT"}


def test_count_sends_in_batches_and_json_summarises(agent, env):
    proc = run_lgr("emit", "counter", "requests", "--delta", "2", "--total", "10", "--count", "250",
                   "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["sent"] == 250 and summary["failed"] == 0 and summary["error"] is None
    assert summary["kind"] == "counter" and summary["agent"] == f"127.0.0.1:{agent.port}"
    assert summary["rate"] > 0 and summary["batches"] >= 3
    envs = agent.servicer.envelopes
    assert len(envs) == 250 and max(agent.servicer.batch_sizes) <= 100
    assert {(e.counter.name, e.counter.delta, e.counter.total) for e in envs} == {("requests", 2, 10)}


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (["gauge", "cpu=1.5:percentage", "mem=3"],
         lambda e: {k: (v.value, v.unit) for k, v in e.gauge.metrics.items()} == {
             "cpu": (1.5, "percentage"), "mem": (3.0, "")}),
        (["timer", "http", "--start", "1000", "--stop", "251000"],
         lambda e: (e.timer.name, e.timer.start, e.timer.stop) == ("http", 1000, 251000)),
        (["event", "deployed", "version 2", "--tag", "a=b"],
         lambda e: (e.event.title, e.event.body, dict(e.tags)) == ("deployed", "version 2", {"a": "b"})),
        (["counter", "c"], lambda e: (e.counter.delta, e.counter.total) == (1, 0)),
    ],
    ids=["gauge", "timer", "event", "counter-default-delta"],
)
def test_each_kind(agent, env, args, check):
    proc = run_lgr("emit", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    (sent,) = agent.servicer.envelopes
    assert check(sent), sent


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["log", "x", "--tag", "novalue"], "error: --tag 'novalue': use KEY=VALUE"),
        (["gauge", "cpu=high"], "error: gauge metric 'cpu=high': use NAME=VALUE[:UNIT], e.g. cpu=12.5:percentage"),
        (["log", "-", "--count", "2"], "error: --count does not apply to `emit log -`: every stdin line is sent once"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(env, args, message):
    proc = run_lgr("emit", *args, env=env, stdin=b"")
    assert proc.returncode == ExitCode.USAGE
    assert error_lines(proc) == [message]


def test_bad_flag_is_a_usage_error(env):
    proc = run_lgr("emit", "counter", "c", "--delta", "-1", env=env)
    assert proc.returncode == ExitCode.USAGE
    assert b"Traceback" not in proc.stderr


def test_an_unreachable_agent_exits_5_naming_it(pki, tmp_path):
    env = client_env(pki, tmp_path, LGR_AGENT_ADDR="127.0.0.1:1")
    proc = run_lgr("emit", "log", "hi", "--connect-timeout", "0.3", env=env)
    assert proc.returncode == ExitCode.UNAVAILABLE
    first, hint = error_lines(proc)
    assert first.startswith("error: cannot reach the agent at 127.0.0.1:1: UNAVAILABLE")
    assert hint.startswith("hint: start one with `lgr up`")
