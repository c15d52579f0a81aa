"""Targets from `lgr up`'s state or flags, and the dashboard's config precedence."""

from __future__ import annotations

import os

import pytest

from lgr.core.errors import ConfigError
from lgr.core.observe.config import load_plan
from lgr.core.observe.targets import Target, parse_target, parse_targets
from lgr.core.up_state import ComponentState, UpState, write_state


def test_parses_named_and_bare_metrics_urls():
    assert parse_target("router-2=https://10.0.0.5:14825/metrics") == Target(
        "router-2", "router", "https://10.0.0.5:14825/metrics", "10.0.0.5:14825")
    assert parse_target("https://[::1]:9000") == Target(
        "[::1]:9000", "component", "https://[::1]:9000/metrics", "[::1]:9000")
    names = [t.name for t in parse_targets(["rlp=http://127.0.0.1:1", "rlp=http://127.0.0.1:2"])]
    assert names == ["rlp", "rlp-2"]


@pytest.mark.parametrize("bad", ["router", "router=ftp://x:1", "https://nohost", "a b=https://h:1"])
def test_rejects_bad_targets(bad):
    with pytest.raises(ValueError):
        parse_target(bad)


def write_stack(state_dir, certs_dir) -> None:
    comps = [ComponentState("router", "router", "127.0.0.1:8082", os.getpid(), "https://127.0.0.1:14825/metrics"),
             ComponentState("rlp", "rlp", "127.0.0.1:9999", os.getpid(), "https://127.0.0.1:14826/metrics"),
             ComponentState("gateway", "gateway", "127.0.0.1:8888", os.getpid(), "")]
    write_state(state_dir, UpState(os.getpid(), "now", str(state_dir), str(certs_dir), "logs", comps))


def test_after_lgr_up_everything_comes_from_its_state(tmp_path):
    write_stack(tmp_path, tmp_path / "stack-certs")
    plan = load_plan({"LGR_STATE_DIR": str(tmp_path)})
    assert plan.config.rlp_addr == "127.0.0.1:9999" and plan.config.gateway_url == "https://127.0.0.1:8888"
    assert plan.config.cert_file == tmp_path / "stack-certs" / "client.crt"
    assert [(t.name, t.metrics_url, t.pid) for t in plan.targets] == [
        ("router", "https://127.0.0.1:14825/metrics", os.getpid()),
        ("rlp", "https://127.0.0.1:14826/metrics", os.getpid()),
        ("gateway", "", os.getpid())]
    assert plan.from_stack and plan.config.via == "rlp"


def test_flags_and_env_override_the_state(tmp_path):
    write_stack(tmp_path, tmp_path)
    env = {"LGR_STATE_DIR": str(tmp_path), "LGR_DASHBOARD_METRICS": "a=http://127.0.0.1:1,b=http://127.0.0.1:2",
           "LGR_TOKEN": "s3cret"}
    plan = load_plan(env, {"rlp_addr": "127.0.0.1:7777", "via": "gateway", "gateway_addr": "127.0.0.1:1234"})
    assert plan.config.rlp_addr == "127.0.0.1:7777" and plan.config.gateway_url == "https://127.0.0.1:1234"
    assert [t.name for t in plan.targets] == ["a", "b"] and not plan.from_stack
    assert plan.config.token == "s3cret"


def test_without_a_stack_there_is_nothing_to_watch(tmp_path):
    plan = load_plan({"LGR_STATE_DIR": str(tmp_path)})
    assert plan.targets == [] and plan.config.rlp_addr == "127.0.0.1:8083"
    assert plan.config.gateway_url == "https://127.0.0.1:8088"


def test_every_bad_setting_is_named(tmp_path):
    env = {"LGR_STATE_DIR": str(tmp_path), "LGR_DASHBOARD_VIA": "carrier-pigeon",
           "LGR_DASHBOARD_METRICS": "nope", "LGR_GATEWAY_ADDR": "nowhere"}
    with pytest.raises(ConfigError) as err:
        load_plan(env, {"scrape_interval": 0.0})
    text = str(err.value.problems)
    for name in ("LGR_DASHBOARD_VIA", "LGR_DASHBOARD_METRICS", "LGR_GATEWAY_ADDR",
                 "LGR_DASHBOARD_SCRAPE_INTERVAL"):
        assert name in text


def test_the_gateway_url_and_admin_token_lgr_up_records_are_used(tmp_path):
    token_file = tmp_path / "admin.token"
    token_file.write_text("lgr_tok")
    comps = [ComponentState("gateway", "gateway", "127.0.0.1:8888", os.getpid(),
                            "https://127.0.0.1:14827/metrics", url="https://127.0.0.1:8888")]
    write_state(tmp_path, UpState(os.getpid(), "now", str(tmp_path), str(tmp_path), "logs", comps,
                                  token_file=str(token_file)))
    plan = load_plan({"LGR_STATE_DIR": str(tmp_path)}, {"via": "gateway"})
    assert plan.config.gateway_url == "https://127.0.0.1:8888"
    assert plan.config.token == "lgr_tok"
