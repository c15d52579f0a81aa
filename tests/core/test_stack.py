"""Stack helpers that need no processes: certificates made when missing, the /health URL, and the
environment each component is started with.

Starting, watching and stopping real components is covered end to end in tests/e2e.
"""

from __future__ import annotations

from pathlib import Path

from lgr.core import certs
from lgr.core.probe import health_url
from lgr.core.stack import KINDS, Stack, StackConfig, ensure_certs
from lgr.core.stack_env import Peers, component_env, port_env, unset_env, url_of


def test_ensure_certs_makes_a_ca_once_then_only_what_is_missing(tmp_path: Path) -> None:
    made = ensure_certs(tmp_path)
    assert made[0] == "ca" and {"agent", "router", "rlp", "gateway", "tc", "cache", "client"} <= set(made)
    ca = (tmp_path / "ca.crt").read_bytes()
    assert ensure_certs(tmp_path) == []
    (tmp_path / "rlp.key").unlink()
    assert ensure_certs(tmp_path) == ["rlp"]
    assert (tmp_path / "ca.crt").read_bytes() == ca, "the CA is kept"
    certs.load_ca(tmp_path)


def test_ensure_certs_remakes_leaves_made_by_an_older_lgr_with_every_name_on_every_leaf(
        tmp_path: Path, monkeypatch) -> None:
    from lgr.core import cert_roles

    # An older lgr gave every leaf every server name and both usages.
    everything = cert_roles.Role(("metron", "doppler", "reverselogproxy", "log-cache"))
    monkeypatch.setattr(cert_roles, "role_of", lambda name: everything)
    ensure_certs(tmp_path)
    assert cert_roles.is_stale(tmp_path / "client.crt", "client") is False  # judged by then's roles
    monkeypatch.undo()
    assert cert_roles.is_stale(tmp_path / "client.crt", "client") is True
    ca = (tmp_path / "ca.crt").read_bytes()
    assert set(ensure_certs(tmp_path)) == {"agent", "router", "rlp", "gateway", "tc", "cache", "client"}
    assert (tmp_path / "ca.crt").read_bytes() == ca
    assert not any(cert_roles.is_stale(tmp_path / f"{n}.crt", n) for n in ("cache", "client", "router"))
    assert ensure_certs(tmp_path) == []


def test_health_url_sits_beside_metrics() -> None:
    assert health_url("https://127.0.0.1:14824/metrics") == "https://127.0.0.1:14824/health"


def _config(tmp_path: Path, **kw) -> StackConfig:
    return StackConfig(certs_dir=tmp_path, log_dir=tmp_path / "logs", **kw)


PEERS = Peers(routers=("127.0.0.1:1001", "127.0.0.1:1002"), agent="127.0.0.1:2000",
              rlp="127.0.0.1:3000", cache="127.0.0.1:4000")


def test_the_gateway_serves_https_and_reads_the_rlp_over_mtls_with_its_own_certificate(tmp_path: Path) -> None:
    env = component_env("gateway", _config(tmp_path, tokens_file=tmp_path / "t.json"), 0, 0, PEERS)
    crt, key, ca = str(tmp_path / "gateway.crt"), str(tmp_path / "gateway.key"), str(tmp_path / "ca.crt")
    assert env == {
        "GATEWAY_ADDR": "127.0.0.1:0", "METRICS_PORT": "0", "HTTP_CERT_PATH": crt, "HTTP_KEY_PATH": key,
        "LOGS_PROVIDER_ADDR": "127.0.0.1:3000", "LOGS_PROVIDER_CA_PATH": ca,
        "LOGS_PROVIDER_CLIENT_CERT_PATH": crt, "LOGS_PROVIDER_CLIENT_KEY_PATH": key,
        "LGR_TOKENS_FILE": str(tmp_path / "t.json"),
    }


def test_the_tc_reads_every_router_reports_to_the_agent_and_asks_the_cache(tmp_path: Path) -> None:
    env = component_env("tc", _config(tmp_path, tokens_file=tmp_path / "t.json"), 8081, 14828, PEERS)
    assert env["TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT"] == "8081"
    assert env["LGR_TC_HOST"] == "127.0.0.1" and env["METRICS_PORT"] == "14828"
    assert env["ROUTER_ADDRS"] == "127.0.0.1:1001,127.0.0.1:1002"
    assert env["ROUTER_CERT_FILE"] == str(tmp_path / "tc.crt")
    assert env["AGENT_GRPC_ADDRESS"] == "127.0.0.1:2000"
    assert env["LOG_CACHE_ADDR"] == "127.0.0.1:4000"
    assert env["LGR_TOKENS_FILE"] == str(tmp_path / "t.json")
    no_cache = component_env("tc", _config(tmp_path), 0, 0, Peers(routers=PEERS.routers))
    assert "LOG_CACHE_ADDR" not in no_cache and "LGR_TOKENS_FILE" not in no_cache
    # Whatever the user's environment says, the tc serves plain ws and uses only this cache.
    assert {"TRAFFIC_CONTROLLER_OUTGOING_CERT_FILE", "LOG_CACHE_ADDR"} <= set(unset_env("tc"))


def test_the_cache_fills_from_the_rlp_within_a_memory_limit(tmp_path: Path) -> None:
    env = component_env("cache", _config(tmp_path, cache_memory_limit="64MiB",
                                         extra_env={"cache": {"MAX_PER_SOURCE": "5"}}), 8080, 6060, PEERS)
    assert env["ADDR"] == "127.0.0.1:8080" and env["LOGS_PROVIDER_ADDR"] == "127.0.0.1:3000"
    assert env["LOGS_PROVIDER_CERT_FILE_PATH"] == str(tmp_path / "cache.crt")
    assert env["LGR_CACHE_MEMORY_LIMIT"] == "64MiB" and env["MAX_PER_SOURCE"] == "5"
    # Its gRPC API (upstream's store port) on any free port unless asked, with its own certificate.
    assert env["LGR_CACHE_GRPC_ADDR"] == "127.0.0.1:0"
    assert (env["CA_PATH"], env["CERT_PATH"], env["KEY_PATH"]) == (
        str(tmp_path / "ca.crt"), str(tmp_path / "cache.crt"), str(tmp_path / "cache.key"))
    fixed = component_env("cache", _config(tmp_path, cache_grpc_port=8089), 8080, 6060, PEERS)
    assert fixed["LGR_CACHE_GRPC_ADDR"] == "127.0.0.1:8089"
    assert "EXTERNAL_CERT" in unset_env("cache") and "METRICS_CERT_FILE_PATH" in unset_env("cache")


def test_the_core_components_keep_their_upstream_variables(tmp_path: Path) -> None:
    agent = component_env("agent", _config(tmp_path), 3458, 14824, PEERS, udp_port=3457)
    assert agent["AGENT_PORT"] == "3458" and agent["AGENT_INCOMING_UDP_PORT"] == "3457"
    assert agent["ROUTER_ADDR"] == "127.0.0.1:1001,127.0.0.1:1002"
    assert agent["AGENT_CERT_FILE"] == str(tmp_path / "agent.crt") and agent["AGENT_HOST"] == "127.0.0.1"
    rlp = component_env("rlp", _config(tmp_path), 8083, 14826, PEERS)
    assert rlp["ROUTER_ADDRS"] == "127.0.0.1:1001,127.0.0.1:1002" and rlp["RLP_PORT"] == "8083"
    assert component_env("router", _config(tmp_path), 8082, 0, PEERS)["ROUTER_KEY_FILE"] == str(
        tmp_path / "router.key")


def test_http_components_are_reported_as_urls() -> None:
    assert url_of("gateway", "127.0.0.1:8088") == "https://127.0.0.1:8088"
    assert url_of("tc", "127.0.0.1:8081") == "ws://127.0.0.1:8081"
    assert url_of("cache", "127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert url_of("rlp", "127.0.0.1:8083") == ""
    assert port_env("gateway", "::1", 8088) == {"GATEWAY_ADDR": "[::1]:8088"}


def test_the_gateway_tc_and_cache_are_opt_in(tmp_path: Path) -> None:
    assert not any(Stack(_config(tmp_path)).enabled(k) for k in ("gateway", "tc", "cache"))
    stack = Stack(_config(tmp_path, gateway=True, cache=True))
    assert [k for k in KINDS if stack.enabled(k)] == ["router", "agent", "rlp", "gateway", "cache"]
