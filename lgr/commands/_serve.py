"""Shared plumbing for `lgr <component> start`: options from a config class, and the run loop.

Each config field becomes a ``--flag`` whose help shows its env var and default; flags default
to None and override the environment only when given. The run loop installs signal handlers:
the first SIGINT/SIGTERM stops the component gracefully, a second exits 130 at once.

Components run on uvloop's event loop (a dependency of lgr off Windows): every envelope crosses
several event-loop turns per hop, and at 100k env/s uvloop cut their latency by a quarter to a
third and their CPU by a few percent (bench/README.md). ``LGR_EVENT_LOOP=asyncio`` runs the
standard loop.

Once the component has started, everything allocated so far (modules, configuration, the
servers) is moved out of the garbage collector's reach with ``gc.freeze()``: a full collection
of it took 40–70 ms, a pause every envelope in flight would wait through.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import inspect
import logging
import os
import signal
import sys
import typing
from collections.abc import Callable
from typing import Any, Optional

import typer

from lgr.console import err_console
from lgr.core.component import Component
from lgr.core.config import Duration, load_config
from lgr.core.errors import ExitCode
from lgr.core.grpc_tuning import prefer_poller_io
from lgr.core.supervisor import die_with_parent

# SIGTERM/SIGINT: a component refuses new work at once (the agent ends open ingress streams with
# UNAVAILABLE and why), then has this long to forward what it holds before it exits.
GRACE_SECONDS = 2.0


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _help(f: dataclasses.Field) -> str:
    meta = f.metadata
    parts = []
    if meta.get("env"):
        parts.append(f"env: {meta['env']}")
    default = f.default if f.default is not dataclasses.MISSING else (
        f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
    )
    if meta.get("required"):
        parts.append("required")
    elif default not in (None, "", [], {}):
        shown = ",".join(default) if isinstance(default, list) else default
        if isinstance(default, dict):
            shown = ",".join(f"{k}:{v}" for k, v in default.items())
        parts.append(f"default: {shown}")
    suffix = f" \\[{'; '.join(parts)}]" if parts else ""
    return f"{meta.get('help', '')}{suffix}"


def _option(f: dataclasses.Field, hint: Any) -> Any:
    # A boolean setting is a plain flag (`--disable-udp`); every other one takes a value, named
    # by what it holds. Values stay strings here so that load_config parses flags and env alike
    # and reports a bad one by its flag name.
    if hint is bool:
        return typer.Option(None, _flag(f.name), help=_help(f), show_default=False)
    return typer.Option(None, _flag(f.name), help=_help(f), show_default=False, metavar=metavar(f.name, hint))


# (name test, metavar): the first that matches names a setting's value in --help.
_URL_PARTS = ("uaa", "capi", "api_host", "log_admin_addr", "log_access_addr")
_NAMED: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda n: n.endswith("port"), "PORT"),
    (lambda n: n.endswith(("_file", "_path", "_cert", "_key")), "FILE"),
    (lambda n: n.endswith("secret"), "SECRET"),
    (lambda n: n.endswith(("_id", "_client")), "ID"),
    (lambda n: n.endswith(("_name", "domain")), "NAME"),
    (lambda n: any(part in n for part in _URL_PARTS), "URL"),
    (lambda n: n.endswith("_addrs"), "HOST:PORT,..."),
    (lambda n: n == "router_addr", "HOST:PORT[,...]"),
    (lambda n: n.endswith(("addr", "addr_with_az")), "HOST:PORT"),
    (lambda n: n.endswith("host"), "HOST"),
    (lambda n: n == "ip", "IP"),
    (lambda n: n.endswith("percent"), "PERCENT"),
    (lambda n: n == "memory_limit", "SIZE"),
    (lambda n: n.startswith("memory_limit"), "BYTES"),
    (lambda n: n.endswith("_ms"), "MILLISECONDS"),
)


def metavar(name: str, hint: Any) -> str:
    """The --help name of the value of setting ``name`` of type ``hint``: PORT, FILE, HOST:PORT,
    DURATION, N, ... (never the type's Python name)."""
    if hint is Duration:
        return "DURATION"
    if typing.get_origin(hint) is dict or hint is dict:
        return "KEY:VALUE,..."
    for matches, shown in _NAMED:
        if matches(name):
            return shown
    if typing.get_origin(hint) is list or hint is list:
        return "LIST"
    if hint is int:
        return "N"
    if hint is float:
        return "NUMBER"
    return "TEXT"


def config_command(
    config_cls: type,
    run: Callable[[Any], None],
    doc: str,
    skip: tuple[str, ...] = (),
) -> Callable[..., None]:
    """Build a typer command whose options are ``config_cls``'s fields; it calls ``run(cfg)``."""
    fields = [f for f in dataclasses.fields(config_cls) if f.name not in skip]

    def command(**flags: Any) -> None:
        prefer_poller_io()  # before the component imports grpc and makes its first channel
        overrides = {k: v for k, v in flags.items() if v is not None}
        cfg = load_config(config_cls, env=os.environ, overrides=overrides)
        run(cfg)

    hints = typing.get_type_hints(config_cls)
    annotations = {f.name: Optional[bool] if hints[f.name] is bool else Optional[str] for f in fields}
    params = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=_option(f, hints[f.name]),
            annotation=annotations[f.name],
        )
        for f in fields
    ]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__doc__ = doc
    return command


def setup_logging() -> None:
    """Log lines to stderr as `<time> <level> <message>`, like upstream's log package."""
    level = logging.DEBUG if os.environ.get("LGR_DEBUG") else logging.INFO
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop, unless LGR_EVENT_LOOP=asyncio or uvloop is not installed (None: asyncio's)."""
    if os.environ.get("LGR_EVENT_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def serve(component: Component) -> None:
    """Run ``component`` until SIGINT/SIGTERM (graceful) or a failure; exit with a named code."""
    die_with_parent()
    setup_logging()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_serve(component))
    if component.error is not None:
        raise component.error


async def _serve(component: Component) -> None:
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            err_console.print("[red]second signal: exiting now[/]")
            os._exit(int(ExitCode.INTERRUPTED))
        asyncio.ensure_future(component.stop(GRACE_SECONDS))

    # Handlers first: a SIGTERM right after the "bound to" line must stop gracefully, not kill.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await component.start()
        if signals:  # asked to stop while starting (stop() before start() does nothing)
            await component.stop(GRACE_SECONDS)
        gc.collect()
        gc.freeze()  # start-up's objects live as long as the process: never scan them again
        await component.wait_stopped()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
