"""Client defaults: where `lgr emit`, `lgr tail` and `lgr meta` find the agent, the rlp, the rlp
gateway, the log cache, their certificates and the bearer token.

Precedence, highest first: flags, environment variables, the stack a running `lgr up` describes
in ``up.json`` in lgr's state directory (lgr.core.up_state), then built-in defaults, which are
those `lgr up` uses: the agent on 127.0.0.1:3458, the rlp on 127.0.0.1:8083, the gateway at
https://127.0.0.1:8088, the log cache on 127.0.0.1:8080, and the ``client`` certificate in lgr's
certs directory (``$LGR_STATE_DIR/certs``, see lgr.core.paths).

The token follows the same order: --token, LGR_TOKEN, then the file up.json names under
``token_file`` (the admin token `lgr up` mints for the local user), else none.

==================  ====================================
LGR_AGENT_ADDR      agent gRPC address (host:port)
LGR_RLP_ADDR        reverse log proxy gRPC address
LGR_GATEWAY_ADDR    rlp gateway (an https:// URL, or host:port for https)
LGR_CACHE_ADDR      log cache HTTP API (host:port for http, or an http(s):// URL)
LGR_TOKEN           bearer token for the gateway and the log cache (``lgr token create``)
LGR_CA_FILE         CA that signed the server's certificate
LGR_CERT_FILE       client certificate (signed by that CA)
LGR_KEY_FILE        its private key
==================  ====================================
"""

from __future__ import annotations

import dataclasses
import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lgr.core import paths, up_state
from lgr.core.config import env_name, load_config, setting

DEFAULT_AGENT_ADDR = "127.0.0.1:3458"
DEFAULT_RLP_ADDR = "127.0.0.1:8083"
DEFAULT_CACHE_ADDR = "127.0.0.1:8080"
DEFAULT_GATEWAY_ADDR = "https://127.0.0.1:8088"
TOKEN_FILE_KEY = "token_file"  # up.json: the path of the admin token `lgr up` minted
CLIENT_CERT_NAME = "client"
TLS_ENV = ("LGR_CA_FILE", "LGR_CERT_FILE", "LGR_KEY_FILE")

C = TypeVar("C", bound="ClientTLSConfig")


@dataclass(frozen=True)
class ClientTLSConfig:
    """The mTLS files a client presents; unset ones default to lgr's certs directory."""

    ca_file: Path | None = setting(
        "LGR_CA_FILE", None, "CA certificate that signed the server's certificate "
        "(default: ca.crt in lgr's certs directory)"
    )
    cert_file: Path | None = setting(
        "LGR_CERT_FILE", None, "client certificate to present (default: client.crt in lgr's certs directory)"
    )
    key_file: Path | None = setting(
        "LGR_KEY_FILE", None, "private key of the client certificate (default: client.key in lgr's certs directory)"
    )

    def with_default_files(self: C, certs_dir: Path) -> C:
        """A copy whose unset files point into ``certs_dir``."""
        base = certs_dir
        return dataclasses.replace(
            self,
            ca_file=self.ca_file or base / "ca.crt",
            cert_file=self.cert_file or base / f"{CLIENT_CERT_NAME}.crt",
            key_file=self.key_file or base / f"{CLIENT_CERT_NAME}.key",
        )


@dataclass(frozen=True)
class AgentClientConfig(ClientTLSConfig):
    """Where a client sends envelopes: an agent's v2 gRPC ingress."""

    agent_addr: str = setting("LGR_AGENT_ADDR", DEFAULT_AGENT_ADDR, "agent gRPC address (host:port)")

    def validate(self) -> list[str]:
        return address_problems("LGR_AGENT_ADDR", self.agent_addr, DEFAULT_AGENT_ADDR)


@dataclass(frozen=True)
class RlpClientConfig(ClientTLSConfig):
    """Where a client reads envelopes: a reverse log proxy's v2 gRPC egress."""

    rlp_addr: str = setting("LGR_RLP_ADDR", DEFAULT_RLP_ADDR, "reverse log proxy gRPC address (host:port)")

    def validate(self) -> list[str]:
        return address_problems("LGR_RLP_ADDR", self.rlp_addr, DEFAULT_RLP_ADDR)


def _token() -> str:
    return setting("LGR_TOKEN", "", "bearer token the rlp gateway and the log cache accept "
                   "(`lgr token create`)", secret=True)


@dataclass(frozen=True)
class CacheClientConfig(ClientTLSConfig):
    """Where a client reads history and metadata: a log cache's HTTP API, and the token it sends."""

    cache_addr: str = setting("LGR_CACHE_ADDR", DEFAULT_CACHE_ADDR,
                              "log cache address (host:port for http, or an http(s):// URL)")
    token: str = _token()

    @property
    def cache_url(self) -> str:
        """The API's base URL: ``cache_addr`` with ``http://`` added when it has no scheme."""
        return _base_url(self.cache_addr, "http")

    def validate(self) -> list[str]:
        return _url_problems("LGR_CACHE_ADDR", self.cache_addr, "use http:// or https://, or host:port",
                             DEFAULT_CACHE_ADDR)


@dataclass(frozen=True)
class GatewayClientConfig(ClientTLSConfig):
    """Where a client reads envelopes over HTTPS: an rlp gateway's /v2/read, and the token it sends."""

    gateway_addr: str = setting("LGR_GATEWAY_ADDR", DEFAULT_GATEWAY_ADDR,
                                "rlp gateway address (an https:// URL, or host:port)")
    token: str = _token()

    @property
    def gateway_url(self) -> str:
        """The gateway's base URL: ``gateway_addr`` with ``https://`` added when it has no scheme."""
        return _base_url(self.gateway_addr, "https")

    def validate(self) -> list[str]:
        return _url_problems("LGR_GATEWAY_ADDR", self.gateway_addr, "use https://host:port or host:port",
                             "127.0.0.1:8088")


def _base_url(addr: str, scheme: str) -> str:
    addr = addr.strip().rstrip("/")
    return addr if "://" in addr else f"{scheme}://{addr}"


def _url_problems(label: str, addr: str, usage: str, example: str) -> list[str]:
    # An http(s):// URL or a bare host:port; either way the host:port must be valid.
    addr = addr.strip()
    scheme, sep, rest = addr.partition("://")
    if sep and scheme not in ("http", "https"):
        return [f"{label}={addr!r}: {usage}"]
    return address_problems(label, rest.rstrip("/") if sep else addr, example)


def https_context(url: str, ca_file: Path | None) -> ssl.SSLContext | None:
    """The SSL context an HTTP client uses for ``url``: None for http://; for https://, one that
    trusts ``ca_file`` when that file exists, else the system's roots (no client certificate)."""
    if not url.startswith("https://"):
        return None
    return ssl.create_default_context(cafile=str(ca_file) if ca_file and ca_file.exists() else None)


# Config field -> the kind of `lgr up` component whose address it defaults to.
_ADDRESS_KINDS = {"agent_addr": "agent", "rlp_addr": "rlp", "cache_addr": "cache",
                  "gateway_addr": "gateway"}


def load_client_config(
    cls: type[C], env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> C:
    """Load ``cls`` from flags (``overrides``), ``env``, a running `lgr up`, then defaults."""
    env = os.environ if env is None else env
    overrides = overrides or {}
    config = load_config(cls, env=env, overrides=overrides)
    stack = up_state.read_state(paths.state_dir(env))
    if stack is None:
        return config.with_default_files(paths.certs_dir(env))
    extras = _up_json(paths.state_dir(env))
    changes = {}
    for field in dataclasses.fields(config):
        given = overrides.get(field.name) is not None or env_name(cls, field.name) in env
        if given:
            continue
        kind = _ADDRESS_KINDS.get(field.name)
        address = extras.get(field.name) if isinstance(extras.get(field.name), str) else None
        address = address or (stack.address_of(kind) if kind else None)
        if kind and address:
            changes[field.name] = address
        elif field.name == "token" and not config.token:
            changes[field.name] = read_token_file(extras.get(TOKEN_FILE_KEY))
    return dataclasses.replace(config, **changes).with_default_files(Path(stack.certs_dir))


def read_token_file(path: object) -> str:
    """The token in the file at ``path`` (surrounding whitespace dropped); "" when there is none."""
    if not isinstance(path, str) or not path:
        return ""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _up_json(directory: Path) -> dict[str, Any]:
    # The keys of up.json that UpState does not model (gateway_addr, token_file, ...).
    try:
        data = json.loads((directory / up_state.STATE_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def address_problems(label: str, address: str, example: str = DEFAULT_AGENT_ADDR) -> list[str]:
    """A problem line when ``address`` is not ``host:port`` (IPv6 hosts in brackets)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        return [f"{label}={address!r}: use host:port, e.g. {example}"]
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        return [f"{label}={address!r}: put an IPv6 host in brackets, e.g. [::1]:{example.rpartition(':')[2]}"]
    return []
