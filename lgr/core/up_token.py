"""Up token: the admin token `lgr up` keeps for the local user, so the clients need no --token.

``admin.token`` in the state directory holds the raw token (mode 0600, nothing else in the
file); the tokens file (``LGR_TOKENS_FILE``, else ``tokens.json`` in the state directory, the
one `lgr token` edits) holds only its hash, under the name ``up-<user>`` (``-2``, ``-3``, ... when
taken). Each `lgr up` reuses the token while the tokens file still grants it admin, and mints a
new one otherwise (first run, the token revoked, either file removed or edited). `lgr up`
records the file's path in up.json as ``token_file``; `lgr tail`, `lgr meta` and `lgr dashboard`
read it from there.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lgr.core.auth.tokens import hash_token, mint, read_entries, unique_name
from lgr.core.paths import writing

TOKEN_FILE_NAME = "admin.token"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class AdminToken:
    """The admin token in use: its file, its name in the tokens file, and whether it is new."""

    path: Path
    name: str
    minted: bool


def token_name() -> str:
    """``up-<user>``, the name the tokens file lists the local user's `lgr up` token under."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry and no LOGNAME/USER
        user = ""
    user = _UNSAFE.sub("-", user).strip("-.") or "user"
    return f"up-{user}"


def ensure_admin_token(token_path: Path, tokens_file: Path) -> AdminToken:
    """Reuse the token in ``token_path`` if ``tokens_file`` grants it admin, else mint one there.

    Raises ConfigError when the tokens file exists but cannot be read or parsed.
    """
    token_path, tokens_file = Path(token_path), Path(tokens_file)
    entries = read_entries(tokens_file)
    current = _read(token_path)
    if current:
        digest = hash_token(current)
        for entry in entries:
            if entry.sha256 == digest and entry.admin:
                return AdminToken(token_path, entry.name, minted=False)
    name = unique_name(tokens_file, token_name())
    token, entry = mint(tokens_file, name, admin=True)
    _write_private(token_path, token)
    return AdminToken(token_path, entry.name, minted=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by its owner only (0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
