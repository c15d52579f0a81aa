"""Up token: `lgr up`'s admin token is minted once, kept private, reused while the tokens file grants it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from lgr.core.auth.tokens import hash_token, mint, read_entries, revoke
from lgr.core.errors import ConfigError
from lgr.core.up_token import ensure_admin_token, token_name


def test_first_run_mints_an_admin_token_readable_by_its_owner_only(tmp_path: Path) -> None:
    token_path, tokens = tmp_path / "state" / "admin.token", tmp_path / "state" / "tokens.json"
    made = ensure_admin_token(token_path, tokens)
    assert made.minted and made.path == token_path and made.name == token_name()
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    raw = token_path.read_text()
    assert raw == raw.strip() and raw.startswith("lgr_"), "the file holds the raw token only"
    [entry] = read_entries(tokens)
    assert entry.admin and entry.sha256 == hash_token(raw) and entry.name == made.name


def test_a_valid_token_is_reused(tmp_path: Path) -> None:
    token_path, tokens = tmp_path / "admin.token", tmp_path / "tokens.json"
    first = ensure_admin_token(token_path, tokens)
    raw = token_path.read_text()
    again = ensure_admin_token(token_path, tokens)
    assert not again.minted and again.name == first.name
    assert token_path.read_text() == raw and len(read_entries(tokens)) == 1


@pytest.mark.parametrize("spoil", ["revoke", "delete token file", "delete tokens file", "not admin"])
def test_a_token_the_tokens_file_no_longer_grants_admin_is_replaced(tmp_path: Path, spoil: str) -> None:
    token_path, tokens = tmp_path / "admin.token", tmp_path / "tokens.json"
    first = ensure_admin_token(token_path, tokens)
    old = token_path.read_text()
    if spoil == "revoke":
        assert revoke(tokens, first.name)
    elif spoil == "delete token file":
        token_path.unlink()
    elif spoil == "delete tokens file":
        tokens.unlink()
    else:  # the file's token is now a per-source one under the same hash
        revoke(tokens, first.name)
        entry = mint(tokens, "reader", source_ids=["app"])[1]
        raw = tokens.read_text().replace(entry.sha256, hash_token(old))
        tokens.write_text(raw)
    again = ensure_admin_token(token_path, tokens)
    new = token_path.read_text()
    assert again.minted and new != old
    granted = {e.sha256: e for e in read_entries(tokens)}
    assert granted[hash_token(new)].admin
    if spoil == "delete token file":  # the lost token's entry keeps its name
        assert again.name == f"{first.name}-2"


def test_a_broken_tokens_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{not json")
    with pytest.raises(ConfigError):
        ensure_admin_token(tmp_path / "admin.token", tokens)
    assert tokens.read_text() == "{not json"
    assert not (tmp_path / "admin.token").exists()


def test_the_name_is_a_single_word(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "Jane Doe/ops")
    assert token_name() == "up-Jane-Doe-ops"
