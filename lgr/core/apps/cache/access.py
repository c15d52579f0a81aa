"""Access: who may read which sources of the cache, decided by the gateway's authority (lgr.core.auth).

As upstream's cf-auth-proxy in front of log cache: a read needs a token that may read its source
id; a PromQL query one that may read every source id its selectors name; meta is answered to any
valid token but lists only the sources it may read (all of them for an admin). A PromQL
request's token is checked before its query is parsed (upstream parses first), so an unknown
token learns nothing from the parser and cannot make it work. Every refusal is
a 404 with an empty body, and is counted in ``auth_failures{endpoint="gateway"}`` as the
gateway's are.

Listing a non-admin's sources asks the tokens file directly (one lookup); with UAA and CAPI it
asks once per source held, and each source refused is counted as a refusal.
"""

from __future__ import annotations

from collections.abc import Iterable

from lgr.core.auth import NOT_ADMIN, Authorizer, strip_bearer


class Access:
    """Per-endpoint checks over ``authorizer``; ``open`` when access control is off."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    @property
    def open(self) -> bool:
        """True when every request may read everything."""
        return self.authorizer.mode == "disabled"

    async def may_read(self, authorization: str | None, source_ids: list[str]) -> bool:
        """May ``authorization`` read every one of ``source_ids`` (at least one)?"""
        decision = await self.authorizer.check_gateway(authorization, source_ids)
        return decision.allowed

    async def known(self, authorization: str | None) -> bool:
        """Is ``authorization`` a token the authority accepts at all (whatever it may read)?

        A refusal is counted as the gateway's are (with UAA, a non-admin token is counted as
        ``not_admin`` too, as it is when listing meta).
        """
        if self.open:
            return True
        tokens = getattr(self.authorizer, "tokens", None)
        if tokens is not None and strip_bearer(authorization) and tokens.lookup(authorization or ""):
            return True
        decision = await self.authorizer.check_gateway(authorization, [])
        return decision.allowed or decision.reason == NOT_ADMIN

    async def readable(self, authorization: str | None, source_ids: Iterable[str]) -> list[str] | None:
        """The ``source_ids`` this token may read, or None when the token itself is refused."""
        ids = list(source_ids)
        auth = self.authorizer
        if self.open:
            return ids
        tokens = getattr(auth, "tokens", None)
        if auth.mode == "tokens" and tokens is not None and strip_bearer(authorization):
            entry = tokens.lookup(authorization or "")
            if entry is not None:
                return ids if entry.admin else [sid for sid in ids if entry.may_read(sid)]
        decision = await auth.check_gateway(authorization, [])
        if decision.allowed:
            return ids
        if decision.reason != NOT_ADMIN:
            return None
        return [sid for sid in ids if (await auth.check_gateway(authorization, [sid])).allowed]
