"""Authorizer: the three access checks servers make, each refusal counted in ``auth_failures``.

Subclasses decide (:class:`~lgr.core.auth.local.TokensAuthorizer` from a tokens file,
:class:`~lgr.core.auth.upstream.UpstreamAuthorizer` from UAA and CAPI,
:class:`~lgr.core.auth.local.OpenAuthorizer` for no access control); this base counts every
refusal by endpoint and reason and logs it without the token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from lgr.core.auth.decision import APP, FIREHOSE, GATEWAY, Decision
from lgr.core.metrics import Counter, Registry

log = logging.getLogger("lgr.auth")

# Upstream's CAPI-backed checks only accept GUID source ids from non-admins.
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

FAILURES_METRIC = "auth_failures"
FAILURES_HELP = "Requests refused by authentication or authorization"


class Authorizer:
    """Answers who may read what; ``registry`` (optional) gets ``auth_failures{endpoint,reason}``."""

    mode = "base"

    def __init__(self, registry: Registry | None = None) -> None:
        self._registry = registry
        self._failures: dict[tuple[str, str], Counter] = {}

    async def check_gateway(self, authorization: str | None, source_ids: Sequence[str]) -> Decision:
        """May ``authorization`` read ``source_ids`` (none: the whole firehose) via the gateway?

        Admins may read anything; others need at least one source id and every one granted.
        """
        return self._record(await self._gateway(authorization or "", list(source_ids)))

    async def check_firehose(self, authorization: str | None) -> Decision:
        """May ``authorization`` open a traffic controller firehose (scope doppler.firehose)?"""
        return self._record(await self._firehose(authorization or ""))

    async def check_app(self, authorization: str | None, app_id: str) -> Decision:
        """May ``authorization`` read app ``app_id``'s stream / recent logs on the TC?"""
        return self._record(await self._app(authorization or "", app_id))

    async def close(self) -> None:
        """Release connections (upstream mode); safe to call more than once."""

    def failures(self, endpoint: str, reason: str) -> int:
        """How many refusals were counted for ``endpoint`` and ``reason`` so far."""
        counter = self._failures.get((endpoint, reason))
        return counter.value if counter is not None else 0

    async def _gateway(self, authorization: str, source_ids: list[str]) -> Decision:
        raise NotImplementedError

    async def _firehose(self, authorization: str) -> Decision:
        raise NotImplementedError

    async def _app(self, authorization: str, app_id: str) -> Decision:
        raise NotImplementedError

    def _record(self, decision: Decision) -> Decision:
        if decision.allowed:
            return decision
        assert decision.reason is not None
        key = (decision.endpoint, decision.reason)
        counter = self._failures.get(key)
        if counter is None:
            labels = {"endpoint": key[0], "reason": key[1]}
            try:
                registry = self._registry if self._registry is not None else Registry()
                counter = registry.counter(FAILURES_METRIC, FAILURES_HELP, labels=labels)
            except ValueError:
                # The server declared auth_failures with other labels itself; keep counting
                # here (see failures()) rather than fail the request.
                log.warning("%s is declared with other labels; counting auth failures apart",
                            FAILURES_METRIC)
                self._registry = Registry()
                counter = self._registry.counter(FAILURES_METRIC, FAILURES_HELP, labels=labels)
            self._failures[key] = counter
        counter.inc()
        log.info("%s access refused (%s)%s", decision.endpoint, decision.reason,
                 f" for {decision.identity}" if decision.identity else "")
        return decision


__all__ = ["APP", "FIREHOSE", "GATEWAY", "GUID_RE", "Authorizer"]
