"""Tests for `lgr token create|list|revoke`: the token is printed once, only its hash is kept."""

from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from lgr.cli import app, main
from lgr.core.auth import tokens
from lgr.core.auth.token_file import TokenFile
from lgr.core.errors import ExitCode


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["token", *args], env=env)


def test_create_admin_prints_the_token_once_and_stores_its_hash(tmp_path):
    path = tmp_path / "tokens.json"
    result = invoke("create", "--admin", "--file", str(path))
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("lgr_") and "\n" not in token
    assert token not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    (entry,) = tokens.read_entries(path)
    assert entry.name == "admin" and entry.admin and entry.sha256 == tokens.hash_token(token)
    assert "only time" in result.stderr


def test_create_json_for_sources_and_default_names_stay_unique(tmp_path):
    path = tmp_path / "tokens.json"
    first = invoke("create", "-s", "app-1", "--source-id", "app-2", "-f", str(path), "--json")
    second = invoke("create", "-s", "app-3", "-f", str(path), "--json")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert (one["name"], one["source_ids"], one["admin"]) == ("reader", ["app-1", "app-2"], False)
    assert two["name"] == "reader-2" and one["file"] == str(path)
    tf = TokenFile(path)
    tf.load()
    assert tf.lookup(f"bearer {one['token']}").source_ids == ("app-1", "app-2")


def test_list_shows_names_and_grants_never_hashes(tmp_path):
    path = tmp_path / "tokens.json"
    invoke("create", "--admin", "--name", "ops", "-f", str(path))
    invoke("create", "-s", "app-1", "--name", "ci", "-f", str(path))
    result = invoke("list", "-f", str(path), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["name"], r["admin"], r["source_ids"]) for r in rows] == [
        ("ops", True, []), ("ci", False, ["app-1"])]
    assert all("sha256" not in r for r in rows)
    table = invoke("list", "-f", str(path))
    assert "ops" in table.stdout and "app-1" in table.stdout


def test_list_of_no_file_says_how_to_make_one(tmp_path):
    result = invoke("list", "-f", str(tmp_path / "none.json"))
    assert result.exit_code == 0 and "lgr token create --admin" in result.stderr


def test_revoke_removes_and_unknown_names_are_usage_errors(tmp_path):
    path = tmp_path / "tokens.json"
    invoke("create", "--admin", "-f", str(path))
    assert invoke("revoke", "admin", "-f", str(path)).exit_code == 0
    assert tokens.read_entries(path) == []
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "revoke", "admin", "-f", str(path)])
    assert exit_info.value.code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("args", "code"),
    [(["create"], ExitCode.USAGE), (["create", "--admin", "-s", "x"], ExitCode.USAGE)],
)
def test_bad_grants_are_refused(tmp_path, args, code):
    with pytest.raises(SystemExit) as exit_info:
        main(["token", *args, "-f", str(tmp_path / "t.json")])
    assert exit_info.value.code == code


def test_a_duplicate_name_is_refused(tmp_path):
    path = tmp_path / "t.json"
    invoke("create", "--admin", "--name", "x", "-f", str(path))
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "create", "--admin", "--name", "x", "-f", str(path)])
    assert exit_info.value.code == ExitCode.EXISTS


def test_the_default_file_follows_lgr_tokens_file(tmp_path):
    path = tmp_path / "env.json"
    result = invoke("create", "--admin", env={"LGR_TOKENS_FILE": str(path)})
    assert result.exit_code == 0, result.output
    assert tokens.read_entries(path)[0].name == "admin"


def test_an_unwritable_tokens_directory_is_one_clean_error_with_the_state_code(tmp_path, capsys):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "create", "--admin", "-f", str(not_a_dir / "state" / "tokens.json")])
    assert exit_info.value.code == ExitCode.STATE
    err = capsys.readouterr().err
    assert "unexpected" not in err and str(not_a_dir / "state") in err and "--file" in err
