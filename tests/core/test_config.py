"""Config loading: defaults, env parsing, overrides, and every problem reported at once."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path

import pytest

from lgr.core.config import (
    Duration,
    check_port,
    env_name,
    fields_of,
    load_config,
    parse_bool,
    parse_duration,
    parse_list,
    parse_tags,
    setting,
)
from lgr.core.errors import ConfigError, ExitCode


@dataclass(frozen=True)
class SampleConfig:
    port: int = setting("SAMPLE_PORT", 3458, "gRPC port")
    debug: bool = setting("SAMPLE_DEBUG", False, "verbose logs")
    timeout: Duration = setting("SAMPLE_TIMEOUT", Duration(15.0), "stream timeout")
    ratio: float = setting("SAMPLE_RATIO", 0.5, "a fraction")
    addrs: list[str] = setting("SAMPLE_ADDRS", ["a:1"], "peer addresses")
    tags: dict[str, str] = setting("SAMPLE_TAGS", {}, "default tags")
    ca_file: Path | None = setting("SAMPLE_CA_FILE", None, "CA certificate")
    name: str = setting("SAMPLE_NAME", "agent", "component name")
    token: str = setting("SAMPLE_TOKEN", "", "auth token", secret=True)
    flag_only: int = setting(None, 7, "set only by a flag")

    def validate(self) -> list[str]:
        return check_port("SAMPLE_PORT", self.port)


@dataclass(frozen=True)
class RequiredConfig:
    router: str = setting("REQ_ROUTER_ADDR", None, "router address", required=True)
    routers: list[str] = setting("REQ_ROUTER_ADDRS", [], "router addresses", required=True)
    tags: dict[str, str] = setting("REQ_TAGS", {}, "tags", required=True)


def test_defaults_without_env():
    cfg = load_config(SampleConfig, env={})
    assert cfg == SampleConfig()
    assert (cfg.port, cfg.debug, cfg.timeout) == (3458, False, 15.0)
    assert (cfg.addrs, cfg.tags) == (["a:1"], {})
    assert cfg.ca_file is None and cfg.flag_only == 7


def test_mutable_defaults_are_not_shared():
    first, second = load_config(SampleConfig, env={}), load_config(SampleConfig, env={})
    first.addrs.append("b:2")
    assert second.addrs == ["a:1"]


def test_config_is_frozen():
    with pytest.raises(FrozenInstanceError):
        load_config(SampleConfig, env={}).port = 1  # type: ignore[misc]


def test_env_values_are_parsed_by_type():
    env = {
        "SAMPLE_PORT": " 8082 ",
        "SAMPLE_DEBUG": "TRUE",
        "SAMPLE_TIMEOUT": "1m30s",
        "SAMPLE_RATIO": "0.25",
        "SAMPLE_ADDRS": "r1:8082, r2:8082,,",
        "SAMPLE_TAGS": "deployment:cf, job=router",
        "SAMPLE_CA_FILE": "~/ca.crt",
        "SAMPLE_NAME": "router",
    }
    cfg = load_config(SampleConfig, env=env)
    assert cfg.port == 8082
    assert cfg.debug is True
    assert cfg.timeout == 90.0 and isinstance(cfg.timeout, Duration)
    assert cfg.ratio == 0.25
    assert cfg.addrs == ["r1:8082", "r2:8082"]
    assert cfg.tags == {"deployment": "cf", "job": "router"}
    assert cfg.ca_file == Path("~/ca.crt").expanduser()
    assert cfg.name == "router"


def test_overrides_win_over_env_and_none_means_not_given():
    env = {"SAMPLE_PORT": "1000", "SAMPLE_NAME": "from-env", "SAMPLE_TIMEOUT": "1s"}
    cfg = load_config(
        SampleConfig,
        env=env,
        overrides={"port": 0, "name": None, "timeout": "250ms", "flag_only": 9},
    )
    assert cfg.port == 0
    assert cfg.name == "from-env"
    assert cfg.timeout == pytest.approx(0.25)
    assert cfg.flag_only == 9


def test_every_bad_value_is_reported_at_once_by_env_name():
    env = {
        "SAMPLE_PORT": "eighty",
        "SAMPLE_DEBUG": "maybe",
        "SAMPLE_TIMEOUT": "15 minutes",
        "SAMPLE_RATIO": "half",
        "SAMPLE_TAGS": "novalue",
        "SAMPLE_TOKEN": "s3cret",  # valid: must not be reported
    }
    with pytest.raises(ConfigError) as info:
        load_config(SampleConfig, env=env)
    problems = info.value.problems
    assert [p.split("=")[0] for p in problems] == [
        "SAMPLE_PORT", "SAMPLE_DEBUG", "SAMPLE_TIMEOUT", "SAMPLE_RATIO", "SAMPLE_TAGS",
    ]
    assert problems[0].startswith("SAMPLE_PORT='eighty': ")
    assert "SampleConfig" in info.value.hint
    assert info.value.exit_code == ExitCode.CONFIG
    assert info.value.message == "; ".join(problems)


def test_secret_values_are_masked_in_problems():
    @dataclass(frozen=True)
    class Secretive:
        pin: int = setting("SECRET_PIN", 0, "a pin", secret=True)

    with pytest.raises(ConfigError) as info:
        load_config(Secretive, env={"SECRET_PIN": "hunter2"})
    assert info.value.problems[0].startswith("SECRET_PIN=***: ")
    assert "hunter2" not in info.value.message


def test_bad_override_names_the_flag_or_env():
    with pytest.raises(ConfigError) as info:
        load_config(SampleConfig, env={}, overrides={"port": "x", "flag_only": "y"})
    assert info.value.problems[0].startswith("SAMPLE_PORT: ")
    assert info.value.problems[1].startswith("--flag-only: ")


def test_validate_hook_problems_are_raised():
    with pytest.raises(ConfigError, match="SAMPLE_PORT=70000: port must be between 0 and 65535"):
        load_config(SampleConfig, env={"SAMPLE_PORT": "70000"})


def test_required_fields_are_all_reported():
    with pytest.raises(ConfigError) as info:
        load_config(RequiredConfig, env={"REQ_ROUTER_ADDRS": " , "})
    assert [p.split(" ")[0] for p in info.value.problems] == [
        "REQ_ROUTER_ADDR", "REQ_ROUTER_ADDRS", "REQ_TAGS",
    ]
    assert "is required: router address" in info.value.problems[0]


def test_required_fields_given_by_env_or_override():
    cfg = load_config(
        RequiredConfig,
        env={"REQ_ROUTER_ADDR": "r:8082", "REQ_TAGS": "a:b"},
        overrides={"routers": ["r1", "r2"]},
    )
    assert (cfg.router, cfg.routers, cfg.tags) == ("r:8082", ["r1", "r2"], {"a": "b"})


def test_field_metadata_helpers():
    assert env_name(SampleConfig, "port") == "SAMPLE_PORT"
    assert env_name(SampleConfig, "flag_only") is None
    with pytest.raises(KeyError):
        env_name(SampleConfig, "nope")
    assert [f.name for f in fields_of(SampleConfig)][:3] == ["port", "debug", "timeout"]
    assert fields_of(SampleConfig)[0].metadata["help"] == "gRPC port"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100ms", 0.1), ("15s", 15), ("14m", 840), ("1h2m3.5s", 3723.5), ("250us", 250e-6),
     ("250µs", 250e-6), ("5ns", 5e-9), ("2", 2), ("0.5", 0.5), (" 1s ", 1)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "15 s", "1x", "1s2", "-1s", "ms100"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("t", True), ("True", True), ("yes", True),
     ("0", False), ("F", False), ("false", False), ("", False)],
)
def test_parse_bool(text, value):
    assert parse_bool(text) is value


def test_parse_bool_rejects():
    with pytest.raises(ValueError, match="not a boolean"):
        parse_bool("2")


def test_parse_list_and_tags():
    assert parse_list(" a, b ,,c ") == ["a", "b", "c"]
    assert parse_list("") == []
    assert parse_tags("a:1, b=2, url:http://x") == {"a": "1", "b": "2", "url": "http://x"}
    for bad in ("novalue", ":v"):
        with pytest.raises(ValueError, match="bad tag"):
            parse_tags(bad)


def test_check_port():
    assert check_port("P", 0) == [] and check_port("P", 65535) == []
    assert check_port("P", -1) == ["P=-1: port must be between 0 and 65535"]
