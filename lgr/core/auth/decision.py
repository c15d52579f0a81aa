"""Auth decisions: allowed or refused, why, and the exact HTTP answer upstream gives for a refusal.

Each endpoint kind answers a refusal the way its upstream server does:

- ``gateway`` (rlp-gateway ``/v2/read``, web/cf_auth_middleware.go): always 404, body
  ``{"message":"resource not found","error":"not_found"}`` + ``"\\n\\n"`` (Go's json.Encoder adds
  one newline, http.Error another), ``Content-Type: text/plain; charset=utf-8``,
  ``X-Content-Type-Options: nosniff``.
- ``firehose`` (trafficcontroller ``/firehose/{id}``, proxy/admin_access_middleware.go): 401,
  ``WWW-Authenticate: Basic``, body ``You are not authorized. authorization not provided`` when
  no token came, else ``You are not authorized. invalid authorization``.
- ``app`` (trafficcontroller ``/apps/{id}/stream`` and ``/recentlogs``,
  proxy/log_access_middleware.go): empty body; 401 for no token, an unknown token, or an app id
  that is not a GUID (upstream mode); 404 for a token that may not read the app (CAPI 403/404);
  500 when CAPI fails or answers anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

GATEWAY, FIREHOSE, APP = "gateway", "firehose", "app"
ENDPOINTS = (GATEWAY, FIREHOSE, APP)

# Why a request was refused; also the `reason` label of the auth_failures counter.
MISSING_TOKEN = "missing_token"    # no Authorization header (nor cookie)
INVALID_TOKEN = "invalid_token"    # not in the tokens file / UAA refused it
NOT_ADMIN = "not_admin"            # a firehose request from a token without an admin scope
NOT_GRANTED = "not_granted"        # the token may not read a requested source id
BAD_SOURCE_ID = "bad_source_id"    # upstream mode: a non-admin source id that is not a GUID
UPSTREAM_ERROR = "upstream_error"  # UAA or CAPI could not be asked or answered oddly
REASONS = (MISSING_TOKEN, INVALID_TOKEN, NOT_ADMIN, NOT_GRANTED, BAD_SOURCE_ID, UPSTREAM_ERROR)

TEXT_PLAIN = "text/plain; charset=utf-8"
GATEWAY_NOT_FOUND_BODY = b'{"message":"resource not found","error":"not_found"}\n\n'
FIREHOSE_MISSING_BODY = b"You are not authorized. authorization not provided"
FIREHOSE_INVALID_BODY = b"You are not authorized. invalid authorization"


@dataclass(frozen=True)
class Decision:
    """The outcome of one auth check; when refused, ``status``/``headers``/``body`` are the answer.

    ``identity`` names who asked (token name, or UAA user/client id) when known, for logs.
    """

    allowed: bool
    endpoint: str
    reason: str | None = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    identity: str = ""
    admin: bool = False


def allow(endpoint: str, identity: str = "", admin: bool = False) -> Decision:
    """An allowed request."""
    return Decision(True, endpoint, identity=identity, admin=admin)


def refuse(endpoint: str, reason: str, identity: str = "", app_status: int | None = None) -> Decision:
    """A refused request, answered as ``endpoint``'s upstream server answers ``reason``.

    ``app_status`` overrides the app endpoint's status (CAPI's own answer, mapped as upstream).
    """
    if reason not in REASONS:
        raise ValueError(f"unknown auth failure reason {reason!r}")
    if endpoint == GATEWAY:
        headers = {"Content-Type": TEXT_PLAIN, "X-Content-Type-Options": "nosniff"}
        return Decision(False, endpoint, reason, 404, headers, GATEWAY_NOT_FOUND_BODY, identity)
    if endpoint == FIREHOSE:
        body = FIREHOSE_MISSING_BODY if reason == MISSING_TOKEN else FIREHOSE_INVALID_BODY
        headers = {"WWW-Authenticate": "Basic", "Content-Type": TEXT_PLAIN}
        return Decision(False, endpoint, reason, 401, headers, body, identity)
    if endpoint == APP:
        status = app_status if app_status is not None else _APP_STATUS[reason]
        return Decision(False, endpoint, reason, status, {}, b"", identity)
    raise ValueError(f"unknown endpoint {endpoint!r}")


_APP_STATUS = {
    MISSING_TOKEN: 401,
    INVALID_TOKEN: 401,
    BAD_SOURCE_ID: 401,
    NOT_ADMIN: 404,
    NOT_GRANTED: 404,
    UPSTREAM_ERROR: 500,
}


def capi_status_to_app(status: int) -> tuple[str, int]:
    """Map CAPI's log_access status to (reason, TC status) the way the TC middleware does."""
    if status == 401:
        return INVALID_TOKEN, 401
    if status in (403, 404):
        return NOT_GRANTED, 404
    return UPSTREAM_ERROR, 500
