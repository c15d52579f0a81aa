"""Auth: who may read what, shared by the RLP gateway, the traffic controller and the log cache.

Usage (inside a running event loop; ``registry`` is the server's metrics Registry)::

    from lgr.core.auth import AuthOptions, build_authorizer

    auth = build_authorizer(AuthOptions(tokens_file=path), registry)   # or uaa_addr=..., capi_addr=...
    d = await auth.check_gateway(request.headers.get("Authorization"), source_ids)
    d = await auth.check_firehose(authorization)          # TC /firehose/{subscription_id}
    d = await auth.check_app(authorization, app_id)       # TC /apps/{id}/stream, /recentlogs
    if not d.allowed:
        return Response(status=d.status, headers=d.headers, body=d.body)
    ...
    await auth.close()                                     # on server stop

``authorization`` is the raw ``Authorization`` header value (``bearer <token>``); the TC passes
the URL-unescaped ``authorization`` cookie when the header is absent, as upstream does. Every
refusal increments ``auth_failures{endpoint,reason}`` in ``registry`` and is logged (without
the token). :class:`Decision` carries ``allowed``, ``reason``, ``status``, ``headers``,
``body``, ``identity`` (token name / UAA user) and ``admin``.

Modes (:attr:`AuthOptions.mode`): ``tokens`` (default; lgr's tokens file, see
:mod:`lgr.core.auth.tokens`, reloaded when it changes), ``upstream`` (``uaa_addr`` set: UAA
``/check_token`` + CAPI ``/internal/v4/log_access/{id}``, positive answers cached
``cache_ttl`` s), ``disabled`` (everything allowed).

Status mapping (exactly upstream's answers; reason = ``auth_failures`` label):

==================================  =====================  =====================  ===========
case (reason)                       gateway /v2/read       TC /firehose/{id}      TC /apps/{id}
==================================  =====================  =====================  ===========
no token (missing_token)            404 not_found JSON     401 "...not provided"  401 empty
unknown/invalid token               404 not_found JSON     401 "...invalid auth.  401 empty
(invalid_token)
valid, not admin, no source ids     404 not_found JSON     401 "...invalid auth.  n/a
/ at the firehose (not_admin)
source not granted (not_granted)    404 not_found JSON     n/a                    404 empty
non-GUID id, upstream mode only     404 not_found JSON     n/a                    401 empty
(bad_source_id)
UAA/CAPI unreachable or odd         404 not_found JSON     401 "...invalid auth.  500 empty
(upstream_error)
admin token                         200 (any/no source)    200                    200
token granted the source            200                    401 (not admin)        200
==================================  =====================  =====================  ===========

Gateway refusal: body ``{"message":"resource not found","error":"not_found"}\\n\\n``,
``Content-Type: text/plain; charset=utf-8``, ``X-Content-Type-Options: nosniff``. Firehose
refusal: ``WWW-Authenticate: Basic``, body ``You are not authorized. authorization not provided``
(no token) or ``You are not authorized. invalid authorization`` (anything else). App refusals
have an empty body. In ``tokens`` mode ids need not be GUIDs; in ``upstream`` mode the TC's app
check asks CAPI only (UAA is not consulted), with CAPI 401 → 401, 403/404 → 404, other → 500.
"""

from __future__ import annotations

from lgr.core.auth.authorizer import GUID_RE, Authorizer
from lgr.core.auth.decision import (
    APP,
    BAD_SOURCE_ID,
    FIREHOSE,
    GATEWAY,
    GATEWAY_NOT_FOUND_BODY,
    INVALID_TOKEN,
    MISSING_TOKEN,
    NOT_ADMIN,
    NOT_GRANTED,
    REASONS,
    UPSTREAM_ERROR,
    Decision,
)
from lgr.core.auth.options import TOKENS_FILE_ENV, AuthOptions, default_tokens_file
from lgr.core.auth.token_file import TokenFile
from lgr.core.auth.tokens import ADMIN_SCOPES, TokenEntry, hash_token, strip_bearer
from lgr.core.metrics import Registry


def build_authorizer(options: AuthOptions, registry: Registry | None = None) -> Authorizer:
    """The authorizer for ``options.mode``; reads the tokens file once (ConfigError if bad)."""
    if options.mode == "disabled":
        from lgr.core.auth.local import OpenAuthorizer

        return OpenAuthorizer(registry)
    if options.mode == "upstream":
        from lgr.core.auth.upstream import UpstreamAuthorizer

        return UpstreamAuthorizer(options, registry)
    from lgr.core.auth.local import TokensAuthorizer

    return TokensAuthorizer(options.tokens_file or default_tokens_file(), registry)


__all__ = [
    "ADMIN_SCOPES", "APP", "BAD_SOURCE_ID", "FIREHOSE", "GATEWAY", "GATEWAY_NOT_FOUND_BODY",
    "GUID_RE", "INVALID_TOKEN", "MISSING_TOKEN", "NOT_ADMIN", "NOT_GRANTED", "REASONS",
    "TOKENS_FILE_ENV", "UPSTREAM_ERROR", "AuthOptions", "Authorizer", "Decision", "TokenEntry",
    "TokenFile", "build_authorizer", "default_tokens_file", "hash_token", "strip_bearer",
]
