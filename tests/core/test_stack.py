"""Stack helpers that need no processes: certificates made when missing, the /health URL.

Starting, watching and stopping real components is covered end to end in tests/e2e.
"""

from __future__ import annotations

from pathlib import Path

from lgr.core import certs
from lgr.core.probe import health_url
from lgr.core.stack import ensure_certs


def test_ensure_certs_makes_a_ca_once_then_only_what_is_missing(tmp_path: Path) -> None:
    made = ensure_certs(tmp_path)
    assert made[0] == "ca" and {"agent", "router", "rlp", "client"} <= set(made)
    ca = (tmp_path / "ca.crt").read_bytes()
    assert ensure_certs(tmp_path) == []
    (tmp_path / "rlp.key").unlink()
    assert ensure_certs(tmp_path) == ["rlp"]
    assert (tmp_path / "ca.crt").read_bytes() == ca, "the CA is kept"
    certs.load_ca(tmp_path)


def test_health_url_sits_beside_metrics() -> None:
    assert health_url("https://127.0.0.1:14824/metrics") == "https://127.0.0.1:14824/health"
