"""Local authorizers: decisions from lgr's tokens file, or no access control at all.

With a tokens file, an admin token may do everything; any other token may read its listed
source ids, and source ids need not be GUIDs (lgr's own components use names such as
``router``). The refusals mirror what UAA/CAPI would make upstream answer: an unknown token is
``invalid_token`` (TC app: 401), a known token asking for a source it lacks is ``not_granted``
(TC app: 404, gateway: 404), a non-admin at the firehose is ``not_admin`` (401).
"""

from __future__ import annotations

from pathlib import Path

from lgr.core.auth.authorizer import Authorizer
from lgr.core.auth.decision import (
    APP,
    FIREHOSE,
    GATEWAY,
    INVALID_TOKEN,
    MISSING_TOKEN,
    NOT_ADMIN,
    NOT_GRANTED,
    Decision,
    allow,
    refuse,
)
from lgr.core.auth.token_file import TokenFile
from lgr.core.auth.tokens import strip_bearer
from lgr.core.metrics import Registry


class TokensAuthorizer(Authorizer):
    """Checks bearer tokens against a :class:`~lgr.core.auth.tokens.TokenFile`."""

    mode = "tokens"

    def __init__(self, path: Path, registry: Registry | None = None) -> None:
        super().__init__(registry)
        self.tokens = TokenFile(path)
        self.tokens.load()

    async def _gateway(self, authorization: str, source_ids: list[str]) -> Decision:
        if not strip_bearer(authorization):
            return refuse(GATEWAY, MISSING_TOKEN)
        entry = self.tokens.lookup(authorization)
        if entry is None:
            return refuse(GATEWAY, INVALID_TOKEN)
        if entry.admin:
            return allow(GATEWAY, entry.name, admin=True)
        if not source_ids:
            return refuse(GATEWAY, NOT_ADMIN, entry.name)
        if not all(entry.may_read(sid) for sid in source_ids):
            return refuse(GATEWAY, NOT_GRANTED, entry.name)
        return allow(GATEWAY, entry.name)

    async def _firehose(self, authorization: str) -> Decision:
        if not strip_bearer(authorization):
            return refuse(FIREHOSE, MISSING_TOKEN)
        entry = self.tokens.lookup(authorization)
        if entry is None:
            return refuse(FIREHOSE, INVALID_TOKEN)
        if not entry.admin:
            return refuse(FIREHOSE, NOT_ADMIN, entry.name)
        return allow(FIREHOSE, entry.name, admin=True)

    async def _app(self, authorization: str, app_id: str) -> Decision:
        if not strip_bearer(authorization):
            return refuse(APP, MISSING_TOKEN)
        entry = self.tokens.lookup(authorization)
        if entry is None:
            return refuse(APP, INVALID_TOKEN)
        if not entry.may_read(app_id):
            return refuse(APP, NOT_GRANTED, entry.name)
        return allow(APP, entry.name, admin=entry.admin)


class OpenAuthorizer(Authorizer):
    """Allows everything (upstream TC's DISABLE_ACCESS_CONTROL); for trusted local setups."""

    mode = "disabled"

    async def _gateway(self, authorization: str, source_ids: list[str]) -> Decision:
        return allow(GATEWAY, admin=True)

    async def _firehose(self, authorization: str) -> Decision:
        return allow(FIREHOSE, admin=True)

    async def _app(self, authorization: str, app_id: str) -> Decision:
        return allow(APP, admin=True)
