"""`lgr up` with a state directory it cannot write: one clean error naming the path, exit STATE."""

from __future__ import annotations

import pytest

from lgr.cli import main
from lgr.core.errors import ExitCode


def test_up_with_an_unwritable_state_dir_exits_with_the_state_code(tmp_path, monkeypatch, capsys):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    monkeypatch.setenv("LGR_STATE_DIR", str(not_a_dir / "state"))
    with pytest.raises(SystemExit) as exit_info:
        main(["up", "--no-gateway", "--no-tc", "--no-cache"])
    assert exit_info.value.code == ExitCode.STATE
    err = capsys.readouterr().err
    assert "unexpected" not in err and str(not_a_dir / "state") in err and "LGR_STATE_DIR" in err
    assert len(err.strip().splitlines()) == 2  # the error line and its hint


def test_up_with_an_unwritable_log_dir_exits_with_the_state_code(tmp_path, monkeypatch, capsys):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    monkeypatch.setenv("LGR_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(SystemExit) as exit_info:
        main(["up", "--no-gateway", "--no-tc", "--no-cache", "--log-dir", str(not_a_dir / "logs"),
              "--router-port", "0", "--agent-port", "0", "--udp-port", "0", "--rlp-port", "0"])
    assert exit_info.value.code == ExitCode.STATE
    err = capsys.readouterr().err
    assert "unexpected" not in err and str(not_a_dir / "logs") in err and "--log-dir" in err
    assert not (tmp_path / "state" / "up.json").exists()
