"""Certificate roles: which names and usages each leaf `lgr certs gen` makes carries.

As upstream's deployments issue them, a server's certificate names only that server (agent
"metron", router "doppler", rlp "reverselogproxy", log cache "log-cache"; the HTTPS servers their
own name), plus its own component name, localhost and the loopback addresses its metrics and
HTTPS listeners are reached at. It has extended key usage serverAuth, and clientAuth too when the
component also dials peers (the agent dials routers, the rlp dials routers, ...). The consumers'
``client`` certificate, and every extra ``--name``, is a client certificate only: clientAuth and no
server name, so it cannot stand in for any server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from lgr.core.tls import AGENT_SERVER_NAME, LOG_CACHE_SERVER_NAME, RLP_SERVER_NAME, ROUTER_SERVER_NAME

LOCAL_NAMES = ("localhost",)
LOCAL_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class Role:
    """What one leaf may do: serve under ``server_names`` (empty: not a server), and dial peers."""

    server_names: tuple[str, ...] = ()
    client: bool = True

    @property
    def server(self) -> bool:
        return bool(self.server_names)


# The router only serves (nothing dials out from it); every other component is a client of a peer.
ROLES: dict[str, Role] = {
    "agent": Role((AGENT_SERVER_NAME,)),
    "router": Role((ROUTER_SERVER_NAME,), client=False),
    "rlp": Role((RLP_SERVER_NAME,)),
    "gateway": Role(("gateway",)),
    "tc": Role(("tc",)),
    "cache": Role((LOG_CACHE_SERVER_NAME, "cache")),
}
CLIENT_ROLE = Role()


def role_of(name: str) -> Role:
    """The role of leaf ``name``: a component's own, else a client's."""
    return ROLES.get(name, CLIENT_ROLE)


def leaf_sans(name: str) -> tuple[str, ...]:
    """The subject alternative names leaf ``name`` gets: none for a client, else its server names,
    its own name, localhost and the loopback addresses (DNS names first, then IPs)."""
    role = role_of(name)
    if not role.server:
        return ()
    return (*dict.fromkeys([*role.server_names, name, *LOCAL_NAMES]), *LOCAL_IPS)


def leaf_usages(name: str) -> tuple[x509.ObjectIdentifier, ...]:
    """The extended key usages leaf ``name`` gets."""
    role = role_of(name)
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if role.server else []
    if role.client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    return tuple(usages)


def leaf_usage_names(name: str) -> tuple[str, ...]:
    """The usages of leaf ``name`` in words: ("server", "client"), ("server",) or ("client",)."""
    role = role_of(name)
    return (*(("server",) if role.server else ()), *(("client",) if role.client else ()))


def is_stale(path: str | os.PathLike[str], name: str) -> bool:
    """True when leaf ``path`` does not carry exactly the names and usages lgr now gives ``name``
    (one made by an older lgr, which put every server name and both usages on every leaf, or
    before a server name was added), or cannot be read."""
    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError):
        return True
    return sans_of(cert) != set(leaf_sans(name)) or _usages(cert) != set(leaf_usages(name))


def sans_of(cert: x509.Certificate) -> set[str]:
    """The DNS names and IP addresses (as text) ``cert``'s subject alternative names hold."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {*ext.get_values_for_type(x509.DNSName), *(str(ip) for ip in ext.get_values_for_type(x509.IPAddress))}


def _usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return set()
