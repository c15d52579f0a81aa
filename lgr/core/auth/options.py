"""Auth options: which authority decides who may read (a tokens file, UAA + CAPI, or nobody).

Plain values, no env names: each server's config maps its own upstream env vars onto these
(the gateway: LOG_ADMIN_* / LOG_ACCESS_*; the traffic controller: TRAFFIC_CONTROLLER_UAA_*,
TRAFFIC_CONTROLLER_API_HOST, CC_*). This module must stay free of grpc and network imports so
config modules can use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lgr.core.paths import state_dir

TOKENS_FILE_ENV = "LGR_TOKENS_FILE"
TOKENS_FILE_NAME = "tokens.json"
DEFAULT_CACHE_TTL = 60.0  # seconds; log-cache's CAPI client keeps answers a minute
DEFAULT_TIMEOUT = 20.0  # seconds per UAA/CAPI request, as upstream's http.Client


def default_tokens_file(env: dict[str, str] | None = None) -> Path:
    """``$LGR_TOKENS_FILE``, else ``<state dir>/tokens.json``."""
    env = dict(os.environ) if env is None else env
    value = env.get(TOKENS_FILE_ENV, "").strip()
    return Path(value).expanduser() if value else state_dir(env) / TOKENS_FILE_NAME


@dataclass(frozen=True)
class AuthOptions:
    """Where authorization comes from; :attr:`mode` says which one applies.

    - ``disabled``: every request is allowed (upstream TC's DISABLE_ACCESS_CONTROL).
    - ``upstream``: ``uaa_addr`` is set; tokens are checked with UAA ``/check_token`` (basic
      auth ``uaa_client_id``/``uaa_client_secret``) and source access with CAPI
      ``{capi_addr}/internal/v4/log_access/{id}`` (mTLS with ``capi_*`` files).
    - ``tokens``: otherwise; tokens are looked up in ``tokens_file`` (see lgr.core.auth.tokens).
    """

    tokens_file: Path | None = None
    uaa_addr: str = ""
    uaa_client_id: str = ""
    uaa_client_secret: str = ""
    uaa_ca_path: str = ""
    capi_addr: str = ""
    capi_external_addr: str = ""
    capi_ca_path: str = ""
    capi_cert_path: str = ""
    capi_key_path: str = ""
    capi_server_name: str = ""
    skip_cert_verify: bool = False
    cache_ttl: float = DEFAULT_CACHE_TTL
    timeout: float = DEFAULT_TIMEOUT
    disabled: bool = False

    @property
    def mode(self) -> str:
        """``disabled``, ``upstream`` or ``tokens``."""
        if self.disabled:
            return "disabled"
        return "upstream" if self.uaa_addr else "tokens"

    def validate(self, names: dict[str, str] | None = None) -> list[str]:
        """Problems with these options; ``names`` maps field names to the caller's env vars."""
        names = names or {}

        def label(field: str) -> str:
            return names.get(field, field)

        problems: list[str] = []
        if self.cache_ttl < 0:
            problems.append(f"{label('cache_ttl')}={self.cache_ttl}: must not be negative")
        if self.timeout <= 0:
            problems.append(f"{label('timeout')}={self.timeout}: must be positive")
        if self.mode == "upstream":
            for field in ("uaa_client_id", "uaa_client_secret", "capi_addr"):
                if not getattr(self, field):
                    problems.append(f"{label(field)} is required when {label('uaa_addr')} is set")
            for field in ("uaa_addr", "capi_addr", "capi_external_addr"):
                value = getattr(self, field)
                if value and not value.startswith(("http://", "https://")):
                    problems.append(f"{label(field)}={value!r}: must start with https:// or http://")
            if bool(self.capi_cert_path) != bool(self.capi_key_path):
                problems.append(f"{label('capi_cert_path')} and {label('capi_key_path')} go together")
        return problems
