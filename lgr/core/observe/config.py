"""Dashboard configuration: where `lgr dashboard` reads the firehose and which components it watches.

The rlp and gateway settings are the shared clients' (lgr.core.clients.defaults), with their
precedence: flags, environment, the running `lgr up`'s ``up.json``, built-in defaults. With nothing
given after `lgr up`, the dashboard reads the firehose from the stack's rlp with the ``client``
certificate and watches every component the state file lists. ``via=gateway`` reads through the
rlp gateway instead, found like `lgr tail --via gateway` finds it: LGR_GATEWAY_ADDR, else the
stack's gateway, else https://127.0.0.1:8088; with the token --token, LGR_TOKEN, else the admin
token `lgr up` minted (up.json's ``token_file``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lgr.core import paths, up_state
from lgr.core.clients.defaults import GatewayClientConfig, RlpClientConfig, load_client_config
from lgr.core.config import env_name, setting
from lgr.core.observe import targets as targets_mod
from lgr.core.observe.targets import Target

VIAS = ("rlp", "gateway")


@dataclass(frozen=True)
class DashboardConfig(RlpClientConfig, GatewayClientConfig):
    """Settings of `lgr dashboard`; see each field's env var."""

    via: str = setting("LGR_DASHBOARD_VIA", "rlp",
                       "read the firehose from the rlp (gRPC, mTLS) or the rlp gateway (HTTPS, token)")
    metrics: list[str] = setting(
        "LGR_DASHBOARD_METRICS", [],
        "components to watch, [NAME=]URL of each metrics endpoint (default: the running `lgr up`'s)")
    scrape_interval: float = setting("LGR_DASHBOARD_SCRAPE_INTERVAL", 1.0,
                                     "seconds between scrapes of the components' metrics")

    def validate(self) -> list[str]:
        problems = RlpClientConfig.validate(self) + GatewayClientConfig.validate(self)
        if self.via not in VIAS:
            problems.append(f"LGR_DASHBOARD_VIA={self.via!r}: use rlp or gateway")
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
    """What to connect to: the loaded config and the targets to watch."""

    config: DashboardConfig
    targets: list[Target]
    from_stack: bool


def load_plan(env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Plan:
    """The config (flags in ``overrides``) and the targets to watch."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None and v != []}
    config = load_client_config(DashboardConfig, env=env, overrides=overrides)
    stack = up_state.read_state(paths.state_dir(env))
    metrics_given = "metrics" in overrides or env_name(DashboardConfig, "metrics") in env
    if metrics_given:
        targets = targets_mod.parse_targets(config.metrics)
    else:
        targets = targets_mod.from_state(stack) if stack else []
    return Plan(config, targets, stack is not None and not metrics_given)
