"""Certificate checks made at start-up: what a peer's TLS stack would refuse later, said now.

Each check returns a problem sentence (or None) that :mod:`lgr.core.tls` turns into a
TLSConfigError naming the file and its env var: a CA file holding a leaf (CA:FALSE), a CA or
certificate that is expired or not yet valid, a chain whose links are not signed by the next one
or run through a leaf, a certificate its CA did not sign, and a certificate whose extended key
usage does not allow the side (server or client) it is loaded for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

Usage = Literal["server", "client"]
_EKU = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}


def is_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``cert`` is ``issuer`` itself or carries a valid signature by it."""
    if cert == issuer:
        return True
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    """True when ``cert`` has basicConstraints CA:TRUE."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def validity_problem(cert: x509.Certificate, now: dt.datetime) -> str | None:
    """'expired on ...' or 'is not valid until ...' when ``now`` is outside ``cert``'s validity."""
    if cert.not_valid_after_utc < now:
        return f"expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    if cert.not_valid_before_utc > now:
        return f"is not valid until {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC (check the clock)"
    return None


def ca_problem(cas: Sequence[x509.Certificate], now: dt.datetime) -> str | None:
    """Why a CA bundle cannot verify anything: a leaf in it, or a CA out of its validity."""
    for cert in cas:
        if not is_ca(cert):
            return (f"holds {_subject(cert)}, which is not a CA certificate (basicConstraints CA:FALSE): "
                    "a leaf certificate given as the CA file?")
        problem = validity_problem(cert, now)
        if problem:
            return f"holds CA {_subject(cert)}, which {problem}"
    return None


def chain_problem(chain: Sequence[x509.Certificate], cas: Sequence[x509.Certificate]) -> str | None:
    """Why ``chain`` (leaf first) does not lead to a CA of ``cas``: a link not signed by the next,
    an intermediate that is a leaf, or a last link no CA signed."""
    for cert, issuer in zip(chain, chain[1:]):
        if not is_issued_by(cert, issuer):
            return f"holds {_subject(cert)}, which is not signed by the next certificate in the file"
        if not is_ca(issuer):
            return f"is signed by {_subject(issuer)}, which is a leaf (CA:FALSE), not a CA"
    if not any(is_issued_by(chain[-1], ca) for ca in cas):
        return "is not signed by the CA in {ca}"
    return None


def usage_problem(cert: x509.Certificate, usage: Usage | None) -> str | None:
    """Why ``cert`` may not act as a TLS ``usage`` ("server" or "client"); None when it may.

    A certificate without extended key usage allows both, as Go and OpenSSL treat it.
    """
    if usage is None:
        return None
    try:
        allowed = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
    if _EKU[usage] in allowed or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in allowed:
        return None
    return f"is not a {usage} certificate (its extended key usage lacks {usage}Auth), but is used as one"


def _subject(cert: x509.Certificate) -> str:
    return repr(cert.subject.rfc4514_string())
