"""Shared flags of the client commands (`lgr emit`, `lgr tail`, `lgr meta`): server addresses,
mTLS files and the bearer token of the gateway and the log cache.

Each flag's help names its env var, read from lgr.core.clients.defaults; flags default to None
and override the environment only when given (the precedence is in ``load_client_config``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lgr.core.clients.defaults import (
    DEFAULT_AGENT_ADDR,
    DEFAULT_CACHE_ADDR,
    DEFAULT_GATEWAY_ADDR,
    DEFAULT_RLP_ADDR,
    AgentClientConfig,
    CacheClientConfig,
    ClientTLSConfig,
    GatewayClientConfig,
    RlpClientConfig,
)

PANEL = "Connection"


def _help(cls: type, name: str, default: str | None = None) -> str:
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    parts = [f"env: {field.metadata['env']}"]
    if default:
        parts.append(f"default: the running `lgr up`'s, else {default}")
    return f"{field.metadata['help']} \\[{'; '.join(parts)}]"


AgentAddr = Annotated[Optional[str], typer.Option(
    "--agent-addr", metavar="HOST:PORT", show_default=False, rich_help_panel=PANEL,
    help=_help(AgentClientConfig, "agent_addr", DEFAULT_AGENT_ADDR),
)]
RlpAddr = Annotated[Optional[str], typer.Option(
    "--rlp-addr", metavar="HOST:PORT", show_default=False, rich_help_panel=PANEL,
    help=_help(RlpClientConfig, "rlp_addr", DEFAULT_RLP_ADDR),
)]
CacheAddr = Annotated[Optional[str], typer.Option(
    "--cache-addr", metavar="ADDR", show_default=False, rich_help_panel=PANEL,
    help=_help(CacheClientConfig, "cache_addr", DEFAULT_CACHE_ADDR),
)]
GatewayAddr = Annotated[Optional[str], typer.Option(
    "--gateway-addr", metavar="URL", show_default=False, rich_help_panel=PANEL,
    help=_help(GatewayClientConfig, "gateway_addr", DEFAULT_GATEWAY_ADDR),
)]
Token = Annotated[Optional[str], typer.Option(
    "--token", metavar="TOKEN", show_default=False, rich_help_panel=PANEL,
    help=_help(CacheClientConfig, "token")[:-1] + "; default: the admin token of the running `lgr up`]",
)]
CaFile = Annotated[Optional[Path], typer.Option(
    "--ca-file", metavar="FILE", show_default=False, rich_help_panel=PANEL,
    help=_help(ClientTLSConfig, "ca_file"),
)]
CertFile = Annotated[Optional[Path], typer.Option(
    "--cert-file", metavar="FILE", show_default=False, rich_help_panel=PANEL,
    help=_help(ClientTLSConfig, "cert_file"),
)]
KeyFile = Annotated[Optional[Path], typer.Option(
    "--key-file", metavar="FILE", show_default=False, rich_help_panel=PANEL,
    help=_help(ClientTLSConfig, "key_file"),
)]
ConnectTimeout = Annotated[float, typer.Option(
    "--connect-timeout", min=0.1, metavar="SECONDS", rich_help_panel=PANEL,
    help="How long to keep trying to reach the server before giving up.",
)]
CONNECT_TIMEOUT = 5.0


def load(cls: type, **flags: Any) -> Any:
    """The client config of ``cls`` from the given flags (None: not given), env and defaults."""
    from lgr.core.clients.defaults import load_client_config

    require_stack(cls, flags)
    return load_client_config(cls, env=os.environ, overrides={k: v for k, v in flags.items() if v is not None})


def require_stack(cls: type, flags: dict[str, Any], what: str = "") -> None:
    """Raise a clear error when nothing tells the client where to go: no running `lgr up`, no
    certificates in the default certs directory, and no address or CA file given by a flag or
    an env var of ``cls``. (Otherwise the first complaint would be a missing CA file.)"""
    from lgr.core import paths, up_state
    from lgr.core.config import env_name
    from lgr.core.errors import NoStackError

    state = paths.state_dir(os.environ)
    if up_state.read_state(state) is not None or (paths.certs_dir(os.environ) / "ca.crt").exists():
        return
    names = {f.name for f in dataclasses.fields(cls)}
    for name in names & {"agent_addr", "rlp_addr", "cache_addr", "gateway_addr", "ca_file", "metrics"}:
        if flags.get(name) not in (None, []) or env_name(cls, name) in os.environ:
            return
    raise NoStackError(
        f"no lgr stack is running{what} (no up.json in {state}) and there are no certificates in "
        f"{paths.certs_dir(os.environ)}",
        hint="start one with `lgr up` (in another terminal); for servers of your own, make "
        "certificates with `lgr certs gen` and give their addresses (see --help)",
    )


def quiet_grpc() -> None:
    """Keep gRPC's C core from logging to stderr (handshake and GOAWAY chatter); errors still
    reach the user through our own messages. Call before grpc is first imported."""
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
