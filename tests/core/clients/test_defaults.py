"""Tests for lgr.core.clients.defaults: flags over env over a running `lgr up` over defaults."""

from __future__ import annotations

import os

import pytest

from lgr.core import up_state
from lgr.core.clients.defaults import AgentClientConfig, RlpClientConfig, load_client_config
from lgr.core.errors import ConfigError


def test_defaults_are_lgr_ups_addresses_and_the_certs_directory(tmp_path):
    cfg = load_client_config(AgentClientConfig, env={"LGR_STATE_DIR": str(tmp_path)})
    assert cfg.agent_addr == "127.0.0.1:3458"
    certs = tmp_path / "certs"
    assert (cfg.ca_file, cfg.cert_file, cfg.key_file) == (
        certs / "ca.crt", certs / "client.crt", certs / "client.key",
    )
    assert load_client_config(RlpClientConfig, env={"LGR_STATE_DIR": str(tmp_path)}).rlp_addr == "127.0.0.1:8083"


def test_env_and_flags_override(tmp_path):
    env = {"LGR_STATE_DIR": str(tmp_path), "LGR_RLP_ADDR": "10.0.0.1:1", "LGR_CA_FILE": "/x/ca.pem"}
    cfg = load_client_config(RlpClientConfig, env=env)
    assert (cfg.rlp_addr, str(cfg.ca_file)) == ("10.0.0.1:1", "/x/ca.pem")
    assert cfg.cert_file == tmp_path / "certs" / "client.crt"
    flagged = load_client_config(RlpClientConfig, env=env, overrides={"rlp_addr": "[::1]:9"})
    assert flagged.rlp_addr == "[::1]:9"


def write_running_stack(state_dir, certs_dir):
    comps = [
        up_state.ComponentState("agent", "agent", "127.0.0.1:4001", os.getpid()),
        up_state.ComponentState("rlp", "rlp", "127.0.0.1:4002", os.getpid()),
    ]
    up_state.write_state(state_dir, up_state.UpState(
        pid=os.getpid(), started_at=up_state.now_iso(), state_dir=str(state_dir),
        certs_dir=str(certs_dir), log_dir=str(state_dir / "logs"), components=comps,
    ))


def test_a_running_lgr_up_is_found_through_its_state_file(tmp_path):
    write_running_stack(tmp_path, tmp_path / "elsewhere")
    env = {"LGR_STATE_DIR": str(tmp_path)}
    agent = load_client_config(AgentClientConfig, env=env)
    rlp = load_client_config(RlpClientConfig, env=env)
    assert (agent.agent_addr, rlp.rlp_addr) == ("127.0.0.1:4001", "127.0.0.1:4002")
    assert agent.ca_file == tmp_path / "elsewhere" / "ca.crt"
    # The environment and flags still win over the state file.
    assert load_client_config(AgentClientConfig, env={**env, "LGR_AGENT_ADDR": "h:1"}).agent_addr == "h:1"
    assert load_client_config(RlpClientConfig, env=env, overrides={"rlp_addr": "h:2"}).rlp_addr == "h:2"


@pytest.mark.parametrize("addr", ["localhost", "h:0", "h:x", ":80", "::1:80"])
def test_bad_addresses_are_config_errors_naming_the_variable(addr, tmp_path):
    with pytest.raises(ConfigError) as info:
        load_client_config(AgentClientConfig, env={"LGR_AGENT_ADDR": addr, "LGR_STATE_DIR": str(tmp_path)})
    assert "LGR_AGENT_ADDR" in info.value.message


def add_to_up_json(state_dir, **extra):
    import json

    path = state_dir / up_state.STATE_NAME
    path.write_text(json.dumps({**json.loads(path.read_text()), **extra}))


def test_the_token_is_the_flag_then_lgr_token_then_the_file_up_json_names(tmp_path):
    from lgr.core.clients.defaults import CacheClientConfig, GatewayClientConfig

    env = {"LGR_STATE_DIR": str(tmp_path)}
    assert load_client_config(GatewayClientConfig, env=env).token == ""  # no lgr up: none
    write_running_stack(tmp_path, tmp_path / "certs")
    assert load_client_config(GatewayClientConfig, env=env).token == ""  # up.json names no file
    token_file = tmp_path / "admin.token"
    token_file.write_text("lgr_from_up\n")
    add_to_up_json(tmp_path, token_file=str(token_file))
    for cls in (GatewayClientConfig, CacheClientConfig):
        assert load_client_config(cls, env=env).token == "lgr_from_up"
        assert load_client_config(cls, env={**env, "LGR_TOKEN": "lgr_env"}).token == "lgr_env"
        assert load_client_config(cls, env={**env, "LGR_TOKEN": "lgr_env"},
                                  overrides={"token": "lgr_flag"}).token == "lgr_flag"
    token_file.unlink()  # a missing file means no token; the server's refusal says what to do
    assert load_client_config(GatewayClientConfig, env=env).token == ""


def test_the_gateway_address_is_a_url_found_like_the_others(tmp_path):
    from lgr.core.clients.defaults import GatewayClientConfig

    env = {"LGR_STATE_DIR": str(tmp_path)}
    cfg = load_client_config(GatewayClientConfig, env=env)
    assert cfg.gateway_url == "https://127.0.0.1:8088"
    assert cfg.ca_file == tmp_path / "certs" / "ca.crt"
    assert load_client_config(GatewayClientConfig, env={**env, "LGR_GATEWAY_ADDR": "h:9"}).gateway_url \
        == "https://h:9"
    write_running_stack(tmp_path, tmp_path / "elsewhere")
    add_to_up_json(tmp_path, gateway_addr="https://127.0.0.1:4003", cache_addr="http://127.0.0.1:4004")
    assert load_client_config(GatewayClientConfig, env=env).gateway_url == "https://127.0.0.1:4003"
    assert load_client_config(GatewayClientConfig, env=env).ca_file == tmp_path / "elsewhere" / "ca.crt"
    assert load_client_config(GatewayClientConfig, env=env,
                              overrides={"gateway_addr": "https://h:1/"}).gateway_url == "https://h:1"
    with pytest.raises(ConfigError) as info:
        load_client_config(GatewayClientConfig, env={**env, "LGR_GATEWAY_ADDR": "ftp://h:1"})
    assert "LGR_GATEWAY_ADDR" in info.value.message
