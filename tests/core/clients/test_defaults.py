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
