"""Tokens file: lgr's own bearer tokens, stored as SHA-256 hashes, reloaded when the file changes.

For a deployment without UAA. The file is JSON, written with mode 0600::

    {
      "version": 1,
      "tokens": [
        {"name": "admin", "sha256": "<hex digest of the token>", "admin": true,
         "source_ids": [], "created": "2024-05-01T12:00:00Z"},
        {"name": "app-reader", "sha256": "...", "admin": false,
         "source_ids": ["f47ac10b-58cc-4372-a567-0e02b2c3d479"], "created": "..."}
      ]
    }

An ``admin`` token holds the scopes ``doppler.firehose`` and ``logs.admin``: it may read the
firehose and any source. Any other token may read exactly its ``source_ids``. Raw tokens are
never stored: ``lgr token create`` prints a new token once and keeps only its hash. Clients send
``Authorization: bearer <token>`` (the prefix is optional and case-insensitive).

Servers look tokens up through :class:`lgr.core.auth.token_file.TokenFile`, which reloads the
file when it changes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lgr.core.errors import AlreadyExistsError, ConfigError, UsageError
from lgr.core.paths import writing

_WRITABLE_HINT = "make its directory writable, or choose another tokens file (--file or LGR_TOKENS_FILE)"

ADMIN_SCOPES = ("doppler.firehose", "logs.admin")
TOKEN_PREFIX = "lgr_"
FILE_VERSION = 1
_HEX = set("0123456789abcdef")


def hash_token(token: str) -> str:
    """The hex SHA-256 of ``token`` (as stored in the file)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def strip_bearer(authorization: str | None) -> str:
    """The token in an Authorization value: ``bearer xyz`` → ``xyz``; empty when absent."""
    value = (authorization or "").strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenEntry:
    """One token in the file: its name, hash, and what it may read."""

    name: str
    sha256: str = field(repr=False)
    admin: bool = False
    source_ids: tuple[str, ...] = ()
    created: str = ""

    @property
    def scopes(self) -> frozenset[str]:
        """The UAA-style scopes this token holds."""
        return frozenset(ADMIN_SCOPES) if self.admin else frozenset()

    def may_read(self, source_id: str) -> bool:
        """True when this token may read ``source_id``."""
        return self.admin or source_id in self.source_ids

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "sha256": self.sha256, "admin": self.admin,
                "source_ids": list(self.source_ids), "created": self.created}


def parse_entries(text: str, origin: str = "tokens file") -> list[TokenEntry]:
    """Parse the file's JSON text; raise ConfigError naming every bad entry."""
    try:
        doc = json.loads(text) if text.strip() else {"tokens": []}
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{origin}: not JSON ({exc})"], hint="fix or remove the file") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tokens", []), list):
        raise ConfigError([f"{origin}: expected an object with a \"tokens\" list"])
    entries: list[TokenEntry] = []
    problems: list[str] = []
    names: set[str] = set()
    for i, raw in enumerate(doc.get("tokens", [])):
        where = f"{origin}: tokens[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: not an object")
            continue
        name, digest = raw.get("name"), str(raw.get("sha256", "")).lower()
        sids = raw.get("source_ids", [])
        if not isinstance(name, str) or not name:
            problems.append(f"{where}: needs a non-empty \"name\"")
        elif name in names:
            problems.append(f"{where}: name {name!r} appears twice")
        if len(digest) != 64 or not set(digest) <= _HEX:
            problems.append(f"{where}: \"sha256\" must be 64 hex digits")
        if not isinstance(sids, list) or not all(isinstance(s, str) and s for s in sids):
            problems.append(f"{where}: \"source_ids\" must be a list of non-empty strings")
            sids = []
        if not isinstance(raw.get("admin", False), bool):
            problems.append(f"{where}: \"admin\" must be true or false")
        names.add(str(name))
        entries.append(TokenEntry(str(name), digest, raw.get("admin") is True, tuple(sids),
                                  str(raw.get("created", ""))))
    if problems:
        raise ConfigError(problems, hint="fix the entries or recreate them with `lgr token`")
    return entries


def read_entries(path: Path) -> list[TokenEntry]:
    """The entries in ``path``; an absent file has none."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return []  # writing it will say what is wrong with its directory
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from exc
    return parse_entries(text, str(path))


def write_entries(path: Path, entries: Sequence[TokenEntry]) -> None:
    """Replace ``path`` atomically with ``entries``, mode 0600."""
    path = Path(path)
    doc = {"version": FILE_VERSION, "tokens": [e.to_json() for e in entries]}
    with writing(path, _WRITABLE_HINT):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two `lgr token` runs (or `lgr up` and a user) must not lose each other's entries.
    lock = path.parent / f".{path.name}.lock"
    with writing(lock, _WRITABLE_HINT):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def mint(path: Path, name: str, *, admin: bool = False,
         source_ids: Sequence[str] = ()) -> tuple[str, TokenEntry]:
    """Make a token, add its hash to ``path`` under ``name``; return (token, entry)."""
    if not admin and not source_ids:
        raise UsageError("a token needs --admin or at least one --source-id")
    if admin and source_ids:
        raise UsageError("--admin already grants every source; drop --source-id")
    if not name or any(c.isspace() for c in name):
        raise UsageError(f"bad token name {name!r}: use a word without spaces")
    path = Path(path)
    with _locked(path):
        entries = read_entries(path)
        if any(e.name == name for e in entries):
            raise AlreadyExistsError(f"a token named {name!r} exists in {path}",
                                     hint=f"revoke it first (`lgr token revoke {name}`) or pick --name")
        token = new_token()
        created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry = TokenEntry(name, hash_token(token), admin, tuple(dict.fromkeys(source_ids)), created)
        write_entries(path, [*entries, entry])
    return token, entry


def revoke(path: Path, name: str) -> bool:
    """Remove the token ``name`` from ``path``; False when there was none."""
    path = Path(path)
    with _locked(path):
        entries = read_entries(path)
        kept = [e for e in entries if e.name != name]
        if len(kept) == len(entries):
            return False
        write_entries(path, kept)
    return True


def unique_name(path: Path, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... whichever is not yet in ``path``."""
    taken = {e.name for e in read_entries(Path(path))}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
