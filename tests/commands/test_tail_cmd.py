"""`lgr tail` streaming, as a real subprocess against a test rlp (mTLS BatchedReceiver) on 127.0.0.1.

No log cache listens here (LGR_CACHE_ADDR is a closed port), so a tail without a source notes
that it has no history and streams live. History from a real log cache (and -f after it) is in
test_tail_history_cmd.py and test_tail_firehose_history_cmd.py."""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess

import grpc
import pytest
from google.protobuf import json_format

from lgr.core import drops, envelope, render
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.errors import ExitCode
from tests.commands.client_env import client_env, error_lines, lgr_cmd, run_lgr, run_on_a_terminal
from tests.conftest import wait_until
from tests.core.clients.fakes import FakeEgress, ServerThread

T = 1_700_000_000_123_456_789
EVERY_KIND = [
    envelope.log("hello", source_id="app", instance_id="0", tags={"source_type": "APP/PROC/WEB"}, timestamp=T),
    envelope.log(b"bad \xff", source_id="app", instance_id="1", type="ERR", timestamp=T),
    envelope.counter("requests", delta=1, total=5, source_id="app", timestamp=T),
    envelope.gauge({"cpu": (1.5, "percentage"), "mem": (3, "MiB")}, source_id="vm", instance_id="2", timestamp=T),
    envelope.timer("http", 0, 2_500_000, source_id="app", timestamp=T),
    envelope.event("crash", "exit 1", source_id="app", timestamp=T),
    envelope_pb2.Envelope(timestamp=T, source_id="app"),
]


NO_CACHE = "127.0.0.1:1"
NO_HISTORY = f"no history: cannot reach the log cache at http://{NO_CACHE}"


def rlp_env(pki, tmp_path, server: ServerThread) -> dict[str, str]:
    return client_env(pki, tmp_path, LGR_RLP_ADDR=f"127.0.0.1:{server.port}", LGR_CACHE_ADDR=NO_CACHE)


@pytest.fixture
def rlp(pki):
    with ServerThread(FakeEgress([[EVERY_KIND]]), pki, "rlp") as server:
        yield server


def selectors_of(server: ServerThread, stream: int = 0) -> list[tuple[str, str]]:
    request = server.servicer.requests[stream]
    return [(s.source_id, s.WhichOneof("Message")) for s in request.selectors]


def test_prints_cf_tail_lines_of_every_kind_from_the_firehose(pki, tmp_path, rlp):
    proc = run_lgr("tail", "--count", str(len(EVERY_KIND)), env=rlp_env(pki, tmp_path, rlp))
    assert proc.returncode == 0, proc.stderr
    expected = b"".join(render.pretty(e, tz=dt.timezone.utc).to_bytes() for e in EVERY_KIND)
    assert proc.stdout == expected
    assert proc.stdout.splitlines()[:4] == [
        b"   2023-11-14T22:13:20.12+0000 [APP/PROC/WEB/0] OUT hello",
        b"   2023-11-14T22:13:20.12+0000 [unknown/1] ERR bad \xff",
        b"   2023-11-14T22:13:20.12+0000 [app] COUNTER requests:5",
        b"   2023-11-14T22:13:20.12+0000 [vm/2] GAUGE cpu:1.500000 percentage mem:3.000000 MiB",
    ]
    assert selectors_of(rlp) == [("", k) for k in ("log", "counter", "gauge", "timer", "event")]
    assert rlp.servicer.requests[0].use_preferred_tags is True
    status = error_lines(proc)
    assert status[0].startswith(NO_HISTORY) and status[0].endswith("; following the live stream only")
    assert status[1:] == [f"0 from the log cache, then received {len(EVERY_KIND)} envelopes in "
                          + status[1].split(" in ")[1]]


def test_n_0_streams_live_only_without_asking_the_cache(pki, tmp_path, rlp):
    proc = run_lgr("tail", "-n", "0", "--count", "2", env=rlp_env(pki, tmp_path, rlp))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(b"\n") == 2
    (status,) = error_lines(proc)
    assert status.startswith(f"received {len(EVERY_KIND)} envelopes, 2 shown in")


def test_json_prints_one_protojson_object_per_envelope(pki, tmp_path, rlp):
    proc = run_lgr("tail", "--json", "--count", "3", "-f", "-n", "0", "--app", "app", "--app", "vm",
                   "-t", "log", "-t", "gauge",
                   "--gauge-name", "cpu", "--gauge-name", "mem", "--shard-id", "g1",
                   env=rlp_env(pki, tmp_path, rlp))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert [json_format.Parse(line, envelope_pb2.Envelope()) for line in lines] == EVERY_KIND[:3]
    assert lines[0].startswith('{"timestamp":"1700000000123456789","source_id":"app","instance_id":"0"')
    assert selectors_of(rlp) == [("app", "log"), ("app", "gauge"), ("vm", "log"), ("vm", "gauge")]
    request = rlp.servicer.requests[0]
    assert list(request.selectors[1].gauge.names) == ["cpu", "mem"] and request.shard_id == "g1"


def test_include_and_exclude_filter_the_rendered_lines(pki, tmp_path, rlp):
    proc = run_lgr("tail", "--include", "COUNTER|GAUGE|EVENT", "--exclude", "percentage", "--count", "2",
                   env=rlp_env(pki, tmp_path, rlp))
    assert proc.returncode == 0, proc.stderr
    assert [line.split(b"] ", 1)[1] for line in proc.stdout.splitlines()] == [
        b"COUNTER requests:5", b"EVENT crash:exit 1",
    ]
    assert "received 7 envelopes, 2 shown in" in proc.stderr.decode()


@pytest.mark.parametrize("flag", ["--include", "--exclude", "--name-filter"])
@pytest.mark.parametrize("pattern", ["(oops", "(a)\\1"])  # RE2, as Go: no backreferences
def test_a_bad_regex_is_one_line_naming_the_flag(pki, tmp_path, flag, pattern):
    proc = run_lgr("tail", flag, pattern, env=client_env(pki, tmp_path))
    assert proc.returncode == ExitCode.USAGE
    (line,) = error_lines(proc)
    assert line.startswith(f"error: {flag} {pattern!r} is not a valid regular expression")


def test_an_unknown_type_is_a_usage_error(pki, tmp_path):
    proc = run_lgr("tail", "-t", "metric", env=client_env(pki, tmp_path))
    assert proc.returncode == ExitCode.USAGE
    assert b"Traceback" not in proc.stderr


def test_reconnects_and_reports_drops_on_stderr(pki, tmp_path):
    report = drops.report("reverse_log_proxy", delta=4, total=4)
    scripts = [
        [[EVERY_KIND[0], report], (grpc.StatusCode.UNAVAILABLE, "router restarting")],
        [[EVERY_KIND[2]]],
    ]
    with ServerThread(FakeEgress(scripts), pki, "rlp") as server:
        proc = run_lgr("tail", "--count", "2", env=rlp_env(pki, tmp_path, server))
        assert len(server.servicer.requests) == 2
        assert server.servicer.metadata[0][drops.REPORT_METADATA_KEY] == "1"
    assert proc.returncode == 0, proc.stderr
    assert [line.split(b"] ", 1)[1] for line in proc.stdout.splitlines()] == [b"OUT hello", b"COUNTER requests:5"]
    status = error_lines(proc)
    assert status[0].startswith(NO_HISTORY)
    assert "the rlp dropped 4 envelopes of this stream (4 in all)" in status[1]
    assert "broke (UNAVAILABLE: router restarting); reconnecting" in status[2]
    assert status[3].startswith(f"reconnected to the rlp at 127.0.0.1:{server.port} after")
    assert status[4].startswith("0 from the log cache, then received 2 envelopes")


def test_ctrl_c_exits_0_with_a_count(pki, tmp_path, rlp):
    out = tmp_path / "out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(lgr_cmd("tail"), stdout=sink, stderr=subprocess.PIPE,
                                env=rlp_env(pki, tmp_path, rlp))
        try:
            wait_until(lambda: out.read_bytes().count(b"\n") == len(EVERY_KIND), timeout=20)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert stderr.decode().strip().splitlines()[-1].startswith(
        f"0 from the log cache, then received {len(EVERY_KIND)} envelopes in")


def test_timeout_before_count_exits_10(pki, tmp_path, rlp):
    # Long enough for the first batch to arrive on a busy machine (it counts from the start).
    proc = run_lgr("tail", "--count", "100", "--timeout", "5", env=rlp_env(pki, tmp_path, rlp))
    assert proc.returncode == ExitCode.TIMEOUT
    assert proc.stdout.count(b"\n") == len(EVERY_KIND)
    assert error_lines(proc)[-2] == f"error: --timeout 5s expired after {len(EVERY_KIND)} of 100 envelopes"


def test_an_unreachable_rlp_exits_5(pki, tmp_path):
    env = client_env(pki, tmp_path, LGR_RLP_ADDR="127.0.0.1:1", LGR_CACHE_ADDR=NO_CACHE)
    proc = run_lgr("tail", "--connect-timeout", "0.3", env=env)
    assert proc.returncode == ExitCode.UNAVAILABLE
    errors = [line for line in error_lines(proc) if line.startswith("error: ")]
    assert errors[0].startswith("error: cannot reach the reverse log proxy at 127.0.0.1:1")


def test_colours_on_a_terminal(pki, tmp_path, rlp):
    env = rlp_env(pki, tmp_path, rlp)
    env.update(FORCE_COLOR="1", COLUMNS="40")  # what rich sees on a terminal; lines must not wrap
    proc = run_lgr("tail", "--count", "3", env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "\x1b[31mERR" in out and "\x1b[35mCOUNTER" in out
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in out.splitlines()]
    assert plain == [
        "   2023-11-14T22:13:20.12+0000 [APP/PROC/WEB/0] OUT hello",
        "   2023-11-14T22:13:20.12+0000 [unknown/1] ERR bad \ufffd",
        "   2023-11-14T22:13:20.12+0000 [app] COUNTER requests:5",
    ]


def test_follow_without_a_reachable_cache_warns_and_streams(pki, tmp_path, rlp):
    proc = run_lgr("tail", "app", "-f", "--count", "2", env=rlp_env(pki, tmp_path, rlp))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(b"\n") == 2
    status = error_lines(proc)
    assert status[0].startswith(NO_HISTORY)
    assert status[-1].startswith("0 from the log cache, then received")
    assert selectors_of(rlp)[0] == ("app", "log")


def test_on_a_terminal_prints_cf_tails_header_unless_no_headers(pki, tmp_path, rlp):
    import getpass

    env = rlp_env(pki, tmp_path, rlp)
    code, out, err = run_on_a_terminal("tail", "app", "-f", "--count", "1", env=env)
    assert code == 0, err
    header = f"Retrieving logs for source app as {getpass.getuser()}...\r\n\r\n".encode()
    assert out.startswith(header), out
    assert b"OUT hello" in out[len(header):]
    code, out, err = run_on_a_terminal("tail", "app", "-f", "--count", "1", "--no-headers", env=env)
    assert code == 0, err
    assert b"Retrieving" not in out and b"OUT hello" in out
    code, out, err = run_on_a_terminal("tail", "--count", "1", env=env)
    assert code == 0, err
    assert out.startswith(f"Retrieving logs for every source as {getpass.getuser()}...\r\n\r\n".encode())
    piped = run_lgr("tail", "app", "-f", "--count", "1", env=env)  # exact lines when piped
    assert piped.returncode == 0 and not piped.stdout.startswith(b"Retrieving")


def test_no_color_leaves_no_escape_code_on_a_terminal(pki, tmp_path, rlp):
    env = rlp_env(pki, tmp_path, rlp)
    code, out, err = run_on_a_terminal("tail", "--count", str(len(EVERY_KIND)), env=env)
    assert code == 0, err
    assert b"\x1b[" in out  # a terminal gets colours...
    env.update(NO_COLOR="1", FORCE_COLOR="1")
    code, out, err = run_on_a_terminal("tail", "--count", str(len(EVERY_KIND)), env=env)
    assert code == 0, err
    assert b"\x1b" not in out and b"COUNTER requests:5" in out  # ...NO_COLOR none at all
    failed = run_lgr("tail", "--rlp-addr", "127.0.0.1:1", "--connect-timeout", "0.2",
                     env={**env, "LGR_CACHE_ADDR": NO_CACHE})
    assert failed.returncode == ExitCode.UNAVAILABLE
    assert b"\x1b" not in failed.stderr and b"error: cannot reach" in failed.stderr


def test_regression_issue10_finding1_tail_skips_an_envelope_that_does_not_parse(pki, tmp_path):
    """`lgr tail -f` exited 1 on a batch holding an envelope with a tag value b"\\xff\\xfe"; it
    prints the good envelopes of that batch and the later ones, and says on stderr what it
    skipped."""
    from tests.poison import poison_tag_envelope

    good = [envelope.log(f"good {i}", source_id="app", timestamp=T).SerializeToString()
            for i in range(2)]
    mixed = envelope.join_batch([good[0], poison_tag_envelope("app"), good[1]])
    with ServerThread(FakeEgress([[mixed, [EVERY_KIND[0]]]]), pki, "rlp") as server:
        proc = run_lgr("tail", "--count", "3", env=rlp_env(pki, tmp_path, server))
    assert proc.returncode == 0, proc.stderr
    assert [line.split(b"] ", 1)[1] for line in proc.stdout.splitlines()] == \
        [b"OUT good 0", b"OUT good 1", b"OUT hello"]
    assert any(line.startswith(f"skipped 1 envelopes from the rlp at 127.0.0.1:{server.port} "
                               "that do not parse (1 in all)") for line in error_lines(proc))
