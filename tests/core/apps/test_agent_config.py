"""Agent configuration: upstream's env names and defaults, lgr's extensions, problems by name."""

from __future__ import annotations

import pytest

from lgr.core.apps.agent.config import AgentConfig
from lgr.core.config import load_config
from lgr.core.errors import ConfigError

REQUIRED = {"ROUTER_ADDR": "doppler.service.cf.internal:8082", "AGENT_CA_FILE": "ca.crt",
            "AGENT_CERT_FILE": "agent.crt", "AGENT_KEY_FILE": "agent.key"}


def load(**env: str) -> AgentConfig:
    return load_config(AgentConfig, env={**REQUIRED, **env})


def problems(**env: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(AgentConfig, env=env)
    return err.value.message


def test_defaults_are_upstreams():
    cfg = load()
    assert (cfg.host, cfg.port, cfg.udp_port, cfg.metrics_port) == ("127.0.0.1", 3458, 3457, 14824)
    assert cfg.metric_source_id == "metron"
    assert cfg.metric_batch_interval_ms == 60000
    assert cfg.tags == {}
    assert not cfg.disable_udp and not cfg.logs_disabled
    assert cfg.routers == [("doppler.service.cf.internal", 8082)]
    assert cfg.routers_with_az == []
    assert (cfg.ingress_buffer_size, cfg.egress_streams) == (10000, 5)


def test_required_settings_are_named():
    text = problems()
    for name in ("ROUTER_ADDR", "AGENT_CA_FILE", "AGENT_CERT_FILE", "AGENT_KEY_FILE"):
        assert f"{name} is required" in text


def test_bad_values_are_reported_by_env_name_all_at_once():
    text = problems(**REQUIRED, AGENT_PORT="abc", AGENT_DISABLE_UDP="maybe", AGENT_TAGS="novalue")
    assert "AGENT_PORT='abc'" in text
    assert "AGENT_DISABLE_UDP='maybe'" in text
    assert "AGENT_TAGS='novalue'" in text


def test_out_of_range_values_are_reported_by_env_name():
    text = problems(**{**REQUIRED, "ROUTER_ADDR": "no-port"}, AGENT_PORT="70000",
                    METRICS_PORT="-5", AGENT_METRIC_BATCH_INTERVAL_MILLISECONDS="0",
                    LGR_AGENT_EGRESS_STREAMS="0", ROUTER_ADDR_WITH_AZ="z:99999")
    for name in ("AGENT_PORT=70000", "METRICS_PORT=-5", "ROUTER_ADDR='no-port'",
                 "AGENT_METRIC_BATCH_INTERVAL_MILLISECONDS=0", "LGR_AGENT_EGRESS_STREAMS=0",
                 "ROUTER_ADDR_WITH_AZ='z:99999'"):
        assert name in text


def test_router_addr_takes_a_list_and_ipv6():
    cfg = load(ROUTER_ADDR="127.0.0.1:8082, 127.0.0.1:8083,[::1]:8084")
    assert cfg.routers == [("127.0.0.1", 8082), ("127.0.0.1", 8083), ("::1", 8084)]


def test_router_addr_with_az_is_normalized_as_upstream():
    cfg = load(ROUTER_ADDR_WITH_AZ="z1@doppler.service.cf.internal:8082")
    assert cfg.routers_with_az == [("z1-doppler.service.cf.internal", 8082)]


def test_agent_tags_parse_upstream_form():
    assert load(AGENT_TAGS="deployment:cf,job:router").tags == {"deployment": "cf", "job": "router"}


def test_metrics_certificates_fall_back_to_the_agents():
    assert load().metrics_tls == ("ca.crt", "agent.crt", "agent.key")
    cfg = load(METRICS_CERT_FILE_PATH="m.crt", METRICS_KEY_FILE_PATH="m.key")
    assert cfg.metrics_tls == ("ca.crt", "m.crt", "m.key")


def test_metrics_port_minus_one_turns_the_endpoint_off():
    assert load(METRICS_PORT="-1").metrics_port == -1
