"""Router and RLP configuration: upstream names and defaults, every bad value named."""

from __future__ import annotations

import pytest

from lgr.core.apps.rlp.config import RlpConfig
from lgr.core.apps.router.config import RouterConfig
from lgr.core.config import load_config
from lgr.core.errors import ConfigError

CERTS = {"ROUTER_CA_FILE": "ca", "ROUTER_CERT_FILE": "c", "ROUTER_KEY_FILE": "k"}
RLP = {"RLP_CA_FILE": "ca", "RLP_CERT_FILE": "c", "RLP_KEY_FILE": "k",
       "ROUTER_ADDRS": "127.0.0.1:8082, 10.0.0.2:8082"}


def problems(cls, env) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(cls, env=env)
    return err.value.problems


def test_router_defaults_are_upstreams():
    cfg = load_config(RouterConfig, env=CERTS)
    assert (cfg.host, cfg.port, cfg.ingress_buffer_size, cfg.subscriber_buffer_size,
            cfg.metrics_port) == ("127.0.0.1", 8082, 10000, 1000, 14825)
    assert cfg.metrics_tls == ("ca", "c", "k")


def test_router_metrics_certs_fall_back_only_when_unset():
    cfg = load_config(RouterConfig, env={**CERTS, "METRICS_CA_FILE_PATH": "mca"})
    assert cfg.metrics_tls == ("mca", "c", "k")


def test_router_bad_values_are_named():
    found = problems(RouterConfig, {"ROUTER_PORT": "eighty", "INGRESS_BUFFER_SIZE": "lots"})
    assert any(p.startswith("ROUTER_PORT='eighty'") for p in found)
    assert any(p.startswith("INGRESS_BUFFER_SIZE='lots'") for p in found)
    assert {p.split(" ")[0] for p in found if "required" in p} == set(CERTS)
    found = problems(RouterConfig, {**CERTS, "ROUTER_PORT": "70000", "METRICS_PORT": "-2",
                                    "LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE": "0"})
    assert found == ["ROUTER_PORT=70000: port must be between 0 and 65535",
                     "METRICS_PORT=-2: port must be between 0 and 65535",
                     "LGR_ROUTER_SUBSCRIBER_BUFFER_SIZE=0: must be at least 1"]


def test_metrics_port_minus_one_turns_metrics_off():
    assert load_config(RouterConfig, env={**CERTS, "METRICS_PORT": "-1"}).metrics_port == -1


def test_rlp_defaults():
    cfg = load_config(RlpConfig, env=RLP)
    assert cfg.router_addrs == ["127.0.0.1:8082", "10.0.0.2:8082"]
    assert (cfg.port, cfg.max_egress_streams, cfg.buffer_size, cfg.metrics_port,
            cfg.metric_source_id) == (8083, 500, 10000, 14826, "reverse_log_proxy")


def test_rlp_bad_values_are_named():
    found = problems(RlpConfig, {**RLP, "ROUTER_ADDRS": "a:1,b,c:0,[::1]:8082,[::1:8",
                                 "MAX_EGRESS_STREAMS": "0", "LGR_RLP_BUFFER_SIZE": "0"})
    assert found == ["ROUTER_ADDRS: 'b' is not host:port",
                     "ROUTER_ADDRS: 'c:0' needs a port between 1 and 65535",
                     "ROUTER_ADDRS: '[::1:8' has an unbalanced IPv6 bracket",
                     "MAX_EGRESS_STREAMS=0: must be at least 1",
                     "LGR_RLP_BUFFER_SIZE=0: must be at least 1"]
    assert "ROUTER_ADDRS is required" in " ".join(problems(RlpConfig, {}))


def test_byte_bounds_default_and_parse_sizes():
    router = load_config(RouterConfig, env=CERTS)
    assert router.ingress_buffer_bytes == 256 * 1024**2 and router.subscriber_buffer_bytes == 64 * 1024**2
    assert str(router.ingress_buffer_bytes) == "256MiB"
    rlp = load_config(RlpConfig, env={**RLP, "LGR_RLP_BUFFER_BYTES": "16MiB"})
    assert rlp.buffer_bytes == 16 * 1024**2


@pytest.mark.parametrize(("env", "value", "problem"), [
    ("LGR_ROUTER_INGRESS_BUFFER_BYTES", "1000", "must be at least 1048576"),
    ("LGR_ROUTER_SUBSCRIBER_BUFFER_BYTES", "lots", "not a size"),
])
def test_bad_byte_bounds_are_named(env, value, problem):
    found = problems(RouterConfig, {**CERTS, env: value})
    assert any(env in p and problem in p for p in found), found
