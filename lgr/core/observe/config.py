"""Dashboard configuration: where `lgr dashboard` reads the firehose and which components it watches.

Precedence as for the other clients (lgr.core.clients.defaults): flags, environment, the running
`lgr up`'s ``up.json``, built-in defaults. With nothing given after `lgr up`, the dashboard
reads the firehose from the stack's rlp with the ``client`` certificate and watches every
component the state file lists. ``via=gateway`` reads through the rlp gateway with a token
instead (its address from LGR_GATEWAY_ADDR, else the stack's gateway, else 127.0.0.1:8088).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lgr.core import paths, up_state
from lgr.core.clients.defaults import RlpClientConfig, address_problems, load_client_config
from lgr.core.config import env_name, setting
from lgr.core.observe import targets as targets_mod
from lgr.core.observe.targets import Target

DEFAULT_GATEWAY_ADDR = "127.0.0.1:8088"
VIAS = ("rlp", "gateway")


@dataclass(frozen=True)
class DashboardConfig(RlpClientConfig):
    """Settings of `lgr dashboard`; see each field's env var."""

    via: str = setting("LGR_DASHBOARD_VIA", "rlp",
                       "read the firehose from the rlp (gRPC, mTLS) or the rlp gateway (HTTPS, token)")
    gateway_addr: str = setting("LGR_GATEWAY_ADDR", "",
                                "rlp gateway HTTPS address host:port, for --via gateway")
    token: str = setting("LGR_TOKEN", "",
                         "bearer token for the gateway; the firehose needs an admin token", secret=True)
    metrics: list[str] = setting(
        "LGR_DASHBOARD_METRICS", [],
        "components to watch, [NAME=]URL of each metrics endpoint (default: the running `lgr up`'s)")
    scrape_interval: float = setting("LGR_DASHBOARD_SCRAPE_INTERVAL", 1.0,
                                     "seconds between scrapes of the components' metrics")

    def validate(self) -> list[str]:
        problems = super().validate()
        if self.via not in VIAS:
            problems.append(f"LGR_DASHBOARD_VIA={self.via!r}: use rlp or gateway")
        if self.gateway_addr:
            problems += address_problems("LGR_GATEWAY_ADDR", self.gateway_addr, DEFAULT_GATEWAY_ADDR)
        for spec in self.metrics:
            try:
                targets_mod.parse_target(spec)
            except ValueError as exc:
                problems.append(f"LGR_DASHBOARD_METRICS: {exc}")
        if self.scrape_interval <= 0:
            problems.append(f"LGR_DASHBOARD_SCRAPE_INTERVAL={self.scrape_interval}: must be above 0")
        return problems


@dataclass(frozen=True)
class Plan:
    """What to connect to: the loaded config, the gateway address in use, and the targets."""

    config: DashboardConfig
    gateway_addr: str
    targets: list[Target]
    from_stack: bool


def load_plan(env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Plan:
    """The config (flags in ``overrides``), the gateway address and targets to watch."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None and v != []}
    config = load_client_config(DashboardConfig, env=env, overrides=overrides)
    stack = up_state.read_state(paths.state_dir(env))
    gateway = config.gateway_addr or (stack.address_of("gateway") if stack else None) or DEFAULT_GATEWAY_ADDR
    metrics_given = "metrics" in overrides or env_name(DashboardConfig, "metrics") in env
    if metrics_given:
        targets = targets_mod.parse_targets(config.metrics)
    else:
        targets = targets_mod.from_state(stack) if stack else []
    return Plan(dataclasses.replace(config, gateway_addr=gateway), gateway, targets,
                stack is not None and not metrics_given)
