"""Upstream authorizer: UAA decides who a token is, CAPI decides which sources it may read.

The flows are upstream's, endpoint by endpoint:

- gateway (rlp-gateway cf_auth_middleware): ask UAA; a failure to ask is a refusal. Admin =
  UAA said 200 and the scopes hold ``doppler.firehose`` or ``logs.admin``. A non-admin needs
  source ids, each a GUID and granted by CAPI log_access (or, failing that, visible as a
  service instance on the external API); note that a non-200 UAA answer still goes on to CAPI.
- firehose (trafficcontroller admin authorizer): ask UAA; anything but 200 with scope
  ``doppler.firehose`` is refused.
- app (trafficcontroller log access middleware): the app id must be a GUID; CAPI log_access
  alone decides (UAA is not asked): 200 allows, 401 → 401, 403/404 → 404, else 500.
"""

from __future__ import annotations

import logging

from lgr.core.auth.authorizer import GUID_RE, Authorizer
from lgr.core.auth.cache import AnswerCache
from lgr.core.auth.capi import CapiClient
from lgr.core.auth.decision import (
    APP,
    BAD_SOURCE_ID,
    FIREHOSE,
    GATEWAY,
    INVALID_TOKEN,
    MISSING_TOKEN,
    NOT_ADMIN,
    NOT_GRANTED,
    UPSTREAM_ERROR,
    Decision,
    allow,
    capi_status_to_app,
    refuse,
)
from lgr.core.auth.http import HttpClient, UpstreamError, client_context
from lgr.core.auth.options import AuthOptions
from lgr.core.auth.uaa import UaaClient
from lgr.core.metrics import Registry

log = logging.getLogger("lgr.auth")

GATEWAY_ADMIN_SCOPES = frozenset({"doppler.firehose", "logs.admin"})
FIREHOSE_SCOPE = "doppler.firehose"


class UpstreamAuthorizer(Authorizer):
    """Checks tokens with a UAA and source access with a Cloud Controller."""

    mode = "upstream"

    def __init__(self, options: AuthOptions, registry: Registry | None = None) -> None:
        super().__init__(registry)
        o = options
        reg = registry if registry is not None else Registry()
        cache = AnswerCache(o.cache_ttl)

        def gauge(name: str, help: str):
            return reg.gauge(name, help, unit="nanoseconds")

        uaa_ctx = client_context(o.uaa_ca_path, skip_verify=o.skip_cert_verify) \
            if o.uaa_addr.startswith("https://") else None
        self.uaa = UaaClient(
            o.uaa_addr, o.uaa_client_id, o.uaa_client_secret, HttpClient(uaa_ctx, o.timeout),
            cache, gauge("LastUAALatency", "Last request latency to UAA in nanoseconds"))
        internal_ctx = client_context(o.capi_ca_path, o.capi_cert_path, o.capi_key_path,
                                      o.skip_cert_verify) if o.capi_addr.startswith("https://") else None
        external_ctx = client_context(o.capi_ca_path, skip_verify=o.skip_cert_verify) \
            if o.capi_external_addr.startswith("https://") else None
        self.capi = CapiClient(
            o.capi_addr, o.capi_external_addr,
            HttpClient(internal_ctx, o.timeout, o.capi_server_name),
            HttpClient(external_ctx, o.timeout), cache,
            {"log_access": gauge("LastCAPIV4LogAccessLatency",
                                 "Last request latency to CAPI v4 logs access endpoint in nanoseconds"),
             "service_instances": gauge(
                 "LastCAPIV2ServiceInstancesLatency",
                 "Last request latency to CAPI v2 service instances endpoint in nanoseconds")})

    async def _gateway(self, authorization: str, source_ids: list[str]) -> Decision:
        if not authorization:
            return refuse(GATEWAY, MISSING_TOKEN)
        try:
            info = await self.uaa.check(authorization)
        except UpstreamError as exc:
            log.warning("failed to read from Oauth2 server: %s", exc)
            return refuse(GATEWAY, UPSTREAM_ERROR)
        if info.valid and info.scopes & GATEWAY_ADMIN_SCOPES:
            return allow(GATEWAY, info.name, admin=True)
        if not source_ids:
            return refuse(GATEWAY, NOT_ADMIN if info.valid else INVALID_TOKEN, info.name)
        for sid in source_ids:
            if not GUID_RE.match(sid):
                return refuse(GATEWAY, BAD_SOURCE_ID, info.name)
            try:
                granted = await self.capi.log_access(authorization, sid) == 200 or \
                    await self.capi.service_instance_access(authorization, sid)
            except UpstreamError as exc:
                log.warning("CAPI request failed: %s", exc)
                return refuse(GATEWAY, UPSTREAM_ERROR, info.name)
            if not granted:
                return refuse(GATEWAY, NOT_GRANTED if info.valid else INVALID_TOKEN, info.name)
        return allow(GATEWAY, info.name)

    async def _firehose(self, authorization: str) -> Decision:
        if not authorization:
            return refuse(FIREHOSE, MISSING_TOKEN)
        try:
            info = await self.uaa.check(authorization)
        except UpstreamError as exc:
            log.warning("error getting auth data: %s", exc)
            return refuse(FIREHOSE, UPSTREAM_ERROR)
        if not info.valid:
            return refuse(FIREHOSE, INVALID_TOKEN, info.name)
        if FIREHOSE_SCOPE not in info.scopes:
            return refuse(FIREHOSE, NOT_ADMIN, info.name)
        return allow(FIREHOSE, info.name, admin=True)

    async def _app(self, authorization: str, app_id: str) -> Decision:
        if not GUID_RE.match(app_id):
            return refuse(APP, BAD_SOURCE_ID)
        if not authorization:
            return refuse(APP, MISSING_TOKEN)
        try:
            status = await self.capi.log_access(authorization, app_id)
        except UpstreamError as exc:
            log.warning("could not get app information: %s", exc)
            return refuse(APP, UPSTREAM_ERROR)
        if status == 200:
            return allow(APP)
        reason, tc_status = capi_status_to_app(status)
        return refuse(APP, reason, app_status=tc_status)

    async def close(self) -> None:
        await self.uaa.close()
        await self.capi.close()
