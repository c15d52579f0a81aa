"""The tokens file: hashes only, 0600, atomic edits, reloads on change, malformed files named."""

from __future__ import annotations

import json
import os
import stat

import pytest

from lgr.core.auth import tokens
from lgr.core.auth.token_file import TokenFile
from lgr.core.auth.options import TOKENS_FILE_ENV, default_tokens_file
from lgr.core.errors import AlreadyExistsError, ConfigError, UsageError


def test_mint_stores_only_the_hash_with_mode_0600(tmp_path):
    path = tmp_path / "sub" / "tokens.json"
    token, entry = tokens.mint(path, "ci", source_ids=["a", "b", "a"])
    text = path.read_text()
    assert token not in text
    assert token.startswith("lgr_") and len(token) > 40
    assert entry.sha256 == tokens.hash_token(token) and entry.sha256 in text
    assert entry.source_ids == ("a", "b") and not entry.admin
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(text)
    assert doc["version"] == 1 and doc["tokens"][0]["name"] == "ci"


def test_mint_refuses_duplicates_and_empty_grants(tmp_path):
    path = tmp_path / "tokens.json"
    tokens.mint(path, "admin", admin=True)
    with pytest.raises(AlreadyExistsError):
        tokens.mint(path, "admin", admin=True)
    with pytest.raises(UsageError):
        tokens.mint(path, "x")
    with pytest.raises(UsageError):
        tokens.mint(path, "y", admin=True, source_ids=["a"])
    with pytest.raises(UsageError):
        tokens.mint(path, "with space", admin=True)
    assert tokens.unique_name(path, "admin") == "admin-2"
    assert tokens.unique_name(path, "reader") == "reader"


def test_lookup_accepts_bearer_in_any_case_and_revoke_removes(tmp_path):
    path = tmp_path / "tokens.json"
    token, _ = tokens.mint(path, "admin", admin=True)
    other, _ = tokens.mint(path, "reader", source_ids=["s"])
    tf = TokenFile(path)
    tf.load()
    assert tf.lookup(token).name == "admin"
    assert tf.lookup(f"bearer {token}").name == "admin"
    assert tf.lookup(f"Bearer  {other}").name == "reader"
    assert tf.lookup("bearer ") is None and tf.lookup("") is None and tf.lookup(None) is None
    assert tf.lookup(token + "x") is None
    assert tokens.revoke(path, "admin") and not tokens.revoke(path, "admin")
    assert tf.lookup(token) is None  # reloaded: the file changed
    assert tf.lookup(other).scopes == frozenset()


def test_a_file_that_appears_later_is_picked_up(tmp_path):
    path = tmp_path / "tokens.json"
    tf = TokenFile(path)
    tf.load()
    assert tf.entries == []
    token, _ = tokens.mint(path, "admin", admin=True)
    assert tf.lookup(token).scopes == frozenset({"doppler.firehose", "logs.admin"})
    path.unlink()
    assert tf.lookup(token) is None


def test_a_file_broken_while_running_keeps_the_last_good_tokens(tmp_path, caplog):
    path = tmp_path / "tokens.json"
    token, _ = tokens.mint(path, "admin", admin=True)
    tf = TokenFile(path)
    tf.load()
    path.write_text("{not json")
    assert tf.lookup(token) is not None
    assert "not reloaded" in caplog.text
    with pytest.raises(ConfigError):
        TokenFile(path).load()


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], 'expected an object with a "tokens" list'),
        ({"tokens": [1]}, "tokens[0]: not an object"),
        ({"tokens": [{"name": "a", "sha256": "zz"}]}, '"sha256" must be 64 hex digits'),
        ({"tokens": [{"sha256": "a" * 64}]}, 'needs a non-empty "name"'),
        ({"tokens": [{"name": "a", "sha256": "a" * 64, "source_ids": "x"}]},
         '"source_ids" must be a list'),
        ({"tokens": [{"name": "a", "sha256": "a" * 64, "admin": "yes"}]},
         '"admin" must be true or false'),
        ({"tokens": [{"name": "a", "sha256": "a" * 64}, {"name": "a", "sha256": "b" * 64}]},
         "appears twice"),
    ],
)
def test_malformed_entries_are_named(doc, problem):
    with pytest.raises(ConfigError) as info:
        tokens.parse_entries(json.dumps(doc), "f.json")
    assert problem in info.value.message and "f.json" in info.value.message


def test_default_path_follows_the_env(tmp_path):
    assert default_tokens_file({TOKENS_FILE_ENV: str(tmp_path / "t.json")}) == tmp_path / "t.json"
    assert default_tokens_file({"LGR_STATE_DIR": str(tmp_path)}) == tmp_path / "tokens.json"


def test_strip_bearer():
    assert tokens.strip_bearer("bearer abc") == "abc"
    assert tokens.strip_bearer("BEARER abc ") == "abc"
    assert tokens.strip_bearer("abc") == "abc"
    assert tokens.strip_bearer(None) == ""
