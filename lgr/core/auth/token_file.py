"""Token file: live lookups in a tokens file, re-read whenever the file changes on disk.

:class:`TokenFile` re-reads the file whenever its mtime, size or inode changes (or, for a file
changed in the last two seconds, whenever its content differs), so ``lgr token create`` /
``revoke`` take effect without a restart. Lookups compare the hash against every entry with
:func:`hmac.compare_digest`, so their time does not depend on which entry (if any) matches. The
format is in :mod:`lgr.core.auth.tokens`.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from pathlib import Path

from lgr.core.auth.tokens import TokenEntry, hash_token, parse_entries, strip_bearer
from lgr.core.errors import ConfigError

log = logging.getLogger("lgr.auth")

RACY_NS = 2_000_000_000


def _racy(stamp: tuple[int, int, int] | None) -> bool:
    # File times tick coarsely (a few ms), so two edits close together can leave the same
    # stamp; a file changed within the last RACY_NS is compared by content too (as git does).
    return stamp is not None and time.time_ns() - stamp[0] < RACY_NS


class TokenFile:
    """Looks tokens up in a tokens file, re-reading it whenever it changes on disk.

    A file that turns bad while running keeps the last good entries (and logs why); a file that
    disappears means no tokens. ``load()`` reads it once up front and raises ConfigError if bad.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: list[TokenEntry] = []
        self._stamp: tuple[int, int, int] | None = None
        self._text = ""

    def load(self) -> None:
        """Read the file now; raise ConfigError if it exists but is malformed."""
        self._stamp = self._current_stamp()
        try:
            self._text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._text = ""
        except OSError as exc:
            raise ConfigError([f"{self.path}: cannot read ({exc.strerror})"]) from exc
        self._entries = parse_entries(self._text, str(self.path))
        if self._stamp is None:
            log.warning("tokens file %s does not exist yet: every request will be refused "
                        "until `lgr token create` adds one", self.path)

    @property
    def entries(self) -> list[TokenEntry]:
        """The current entries (after a reload check)."""
        self._refresh()
        return list(self._entries)

    def lookup(self, token: str) -> TokenEntry | None:
        """The entry whose hash matches ``token`` (bearer prefix allowed), else None."""
        token = strip_bearer(token)
        if not token:
            return None
        self._refresh()
        digest = hash_token(token).encode("ascii")
        found: TokenEntry | None = None
        for entry in self._entries:  # no early exit: every lookup costs the same
            if hmac.compare_digest(digest, entry.sha256.encode("ascii")):
                found = entry
        return found

    def _current_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.error("cannot stat tokens file %s: %s", self.path, exc.strerror)
            return self._stamp
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _refresh(self) -> None:
        stamp = self._current_stamp()
        if stamp == self._stamp and not _racy(stamp):
            return
        try:
            text = self.path.read_text(encoding="utf-8") if stamp is not None else ""
        except FileNotFoundError:
            stamp, text = None, ""
        except OSError as exc:
            log.error("cannot read tokens file %s: %s", self.path, exc.strerror)
            return
        if stamp == self._stamp and text == self._text:
            return
        self._stamp, self._text = stamp, text
        try:
            entries = parse_entries(text, str(self.path)) if stamp is not None else []
        except ConfigError as exc:
            log.error("tokens file %s not reloaded, keeping the previous tokens: %s",
                      self.path, exc.message)
            return
        self._entries = entries
        log.info("tokens file %s (re)loaded: %d token(s)", self.path, len(entries))
