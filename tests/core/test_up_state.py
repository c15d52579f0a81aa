"""Up state: one `lgr up` per state directory, a readable state file, stale files ignored."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lgr.core.errors import ExitCode
from lgr.core.up_state import (
    AlreadyRunningError,
    ComponentState,
    UpLock,
    UpState,
    holder_pid,
    read_state,
    remove_state,
    write_state,
)

HOLD_LOCK = """
import sys, time
from lgr.core.up_state import UpLock
lock = UpLock(sys.argv[1]); lock.acquire()
print("locked", flush=True)
sys.stdin.read()
"""


def _state(pid: int, tmp_path: Path) -> UpState:
    return UpState(
        pid=pid, started_at="2024-01-01T00:00:00+00:00", state_dir=str(tmp_path),
        certs_dir=str(tmp_path / "certs"), log_dir=str(tmp_path / "logs"),
        components=[
            ComponentState("router", "router", "127.0.0.1:8082", 11, "http://127.0.0.1:14825/metrics"),
            ComponentState("agent", "agent", "127.0.0.1:3458", 12, udp_address="127.0.0.1:3457"),
            ComponentState("rlp", "rlp", "127.0.0.1:8083", 13),
        ],
    )


def test_second_lock_in_another_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_LOCK), str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyRunningError) as info:
            UpLock(tmp_path).acquire()
        assert info.value.pid == holder.pid
        assert info.value.exit_code == ExitCode.ALREADY_RUNNING
        assert f"pid {holder.pid}" in info.value.message
    finally:
        holder.kill()
        holder.wait(10)
    # The kernel dropped the dead holder's lock: no stale lock survives a crash.
    lock = UpLock(tmp_path)
    lock.acquire()
    lock.release()


def test_lock_records_our_pid_and_release_is_idempotent(tmp_path: Path) -> None:
    import os

    with UpLock(tmp_path / "new") as lock:
        assert holder_pid(tmp_path / "new") == os.getpid()
        lock.release()
    assert holder_pid(tmp_path / "new") is None


def test_state_round_trips_with_lookup_keys(tmp_path: Path) -> None:
    import os

    state = _state(os.getpid(), tmp_path)
    path = write_state(tmp_path, state)
    data = json.loads(path.read_text())
    assert data["agent_addr"] == "127.0.0.1:3458"
    assert data["rlp_addr"] == "127.0.0.1:8083"
    assert data["router_addrs"] == ["127.0.0.1:8082"]
    assert data["gateway_addr"] is None and data["tc_addr"] is None and data["cache_addr"] is None
    assert data["cache_grpc_addr"] is None
    assert read_state(tmp_path) == state
    remove_state(tmp_path)
    remove_state(tmp_path)
    assert read_state(tmp_path) is None


def test_http_components_and_the_admin_token_are_recorded(tmp_path: Path) -> None:
    import dataclasses
    import os

    state = dataclasses.replace(
        _state(os.getpid(), tmp_path), token_file=str(tmp_path / "admin.token"),
        tokens_file=str(tmp_path / "tokens.json"))
    state.components.extend([
        ComponentState("gateway", "gateway", "127.0.0.1:8088", 14, url="https://127.0.0.1:8088"),
        ComponentState("cache", "cache", "127.0.0.1:8080", 15, url="http://127.0.0.1:8080",
                       grpc_address="127.0.0.1:8089"),
        ComponentState("tc", "tc", "127.0.0.1:8081", 16, url="ws://127.0.0.1:8081"),
    ])
    data = json.loads(write_state(tmp_path, state).read_text())
    assert (data["gateway_addr"], data["tc_addr"], data["cache_addr"]) == (
        "https://127.0.0.1:8088", "ws://127.0.0.1:8081", "http://127.0.0.1:8080")
    assert data["cache_grpc_addr"] == "127.0.0.1:8089"
    assert data["token_file"] == str(tmp_path / "admin.token")
    assert data["tokens_file"] == str(tmp_path / "tokens.json")
    assert read_state(tmp_path) == state


def test_state_of_a_dead_process_or_garbage_is_ignored(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(10)
    write_state(tmp_path, _state(dead.pid, tmp_path))
    assert read_state(tmp_path) is None
    (tmp_path / "up.json").write_text("{not json")
    assert read_state(tmp_path) is None
