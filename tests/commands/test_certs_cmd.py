"""Tests for `lgr certs gen`: table and JSON output, refusal to overwrite, the default directory."""

from __future__ import annotations

import datetime as dt
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lgr.cli import app, main
from lgr.core import certs
from lgr.core.errors import AlreadyExistsError, ExitCode

ALL = ["ca", *certs.COMPONENTS]


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["certs", "gen", *args], env=env)


def test_gen_writes_every_file_and_prints_a_table(tmp_path):
    result = invoke("--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    for name in ALL:
        assert (tmp_path / f"{name}.crt").is_file() and (tmp_path / f"{name}.key").is_file()
        assert f"{name}.crt" in result.stdout
    for san in ("metron", "doppler", "reverselogproxy", "log-cache", "localhost", "127.0.0.1", "::1",
                "(none: client only)"):
        assert san in result.stdout
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365)).strftime("%Y-%m-%d")
    assert expires in result.stdout


def test_gen_json_lists_records(tmp_path):
    result = invoke("--dir", str(tmp_path), "--days", "7", "--json", "--name", "alice")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["name"] for r in records] == [*ALL, "alice"]
    ca, *leaves = records
    assert ca["is_ca"] is True and ca["sans"] == []
    for r in leaves:
        assert Path(r["cert"]) == tmp_path / f"{r['name']}.crt"
        assert stat.S_IMODE(Path(r["key"]).stat().st_mode) == 0o600
        own = {"agent": "metron", "router": "doppler", "rlp": "reverselogproxy", "cache": "log-cache"}
        if r["name"] in ("client", "alice"):
            assert r["sans"] == [] and r["usage"] == ["client"]
        else:
            assert {own.get(r["name"], r["name"]), r["name"], "localhost", "127.0.0.1", "::1"} == set(r["sans"])
            assert r["usage"] == (["server"] if r["name"] == "router" else ["server", "client"])
        left = dt.datetime.fromisoformat(r["not_after"]) - dt.datetime.now(dt.timezone.utc)
        assert dt.timedelta(days=6) < left <= dt.timedelta(days=7)


def test_gen_refuses_to_overwrite_and_force_overrides(tmp_path):
    assert invoke("--dir", str(tmp_path)).exit_code == 0
    old_ca = (tmp_path / "ca.crt").read_bytes()

    refused = invoke("--dir", str(tmp_path))
    assert isinstance(refused.exception, AlreadyExistsError)
    assert refused.exception.exit_code == ExitCode.EXISTS
    assert (tmp_path / "ca.crt").read_bytes() == old_ca

    forced = invoke("--dir", str(tmp_path), "--force")
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "ca.crt").read_bytes() != old_ca


def test_refusal_exits_6_with_a_hint_through_the_error_boundary(tmp_path, capsys):
    certs.generate_pki(tmp_path, components=("client",))
    with pytest.raises(SystemExit) as exit_info:
        main(["certs", "gen", "--dir", str(tmp_path)])
    assert exit_info.value.code == 6
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "--force" in err


def test_name_with_an_existing_ca_adds_only_that_cert(tmp_path):
    assert invoke("--dir", str(tmp_path)).exit_code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = invoke("--dir", str(tmp_path), "--name", "alice", "--name", "bob", "--json")
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in json.loads(result.stdout)] == ["alice", "bob"]
    assert "signed by the existing CA" in result.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in before} == before
    assert (tmp_path / "alice.crt").is_file() and (tmp_path / "bob.key").is_file()


def test_default_dir_is_under_lgr_state_dir(tmp_path):
    result = invoke("--json", env={"LGR_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "state" / "certs" / "router.crt").is_file()


def test_default_dir_follows_xdg_state_home_then_home(tmp_path):
    xdg = invoke("--json", env={"LGR_STATE_DIR": "", "XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert xdg.exit_code == 0, xdg.output
    assert (tmp_path / "xdg" / "lgr" / "certs" / "ca.crt").is_file()
    # A relative XDG_STATE_HOME is invalid by the spec and ignored.
    home = invoke("--json", env={"LGR_STATE_DIR": "", "XDG_STATE_HOME": "rel", "HOME": str(tmp_path / "home")})
    assert home.exit_code == 0, home.output
    assert (tmp_path / "home" / ".local" / "state" / "lgr" / "certs" / "ca.crt").is_file()


def test_days_below_one_is_a_usage_error(tmp_path):
    result = invoke("--dir", str(tmp_path), "--days", "0")
    assert result.exit_code == ExitCode.USAGE
    assert not any(tmp_path.iterdir())


def test_a_bad_name_exits_with_the_config_code(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["certs", "gen", "--dir", str(tmp_path), "--name", "../escape"])
    assert exit_info.value.code == ExitCode.CONFIG
    assert "../escape" in capsys.readouterr().err


def test_gen_as_a_real_process(tmp_path):
    command = [sys.executable, "-m", "lgr", "certs", "gen", "--dir", str(tmp_path / "pki")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "router.crt" in first.stdout
    assert stat.S_IMODE((tmp_path / "pki" / "ca.key").stat().st_mode) == 0o600

    second = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert second.returncode == 6
    assert second.stderr.startswith("error: refusing to overwrite") and "--force" in second.stderr
    assert "Traceback" not in second.stderr
