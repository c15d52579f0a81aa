"""`lgr up`: run the whole system on loopback, making certificates and an admin token on first run."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import replace
from pathlib import Path

import typer

from lgr.commands._up_show import show, show_last_lines
from lgr.console import err_console, escape, note
from lgr.core import paths
from lgr.core.errors import ExitCode

GRACE_SECONDS = 8.0


METRICS_ROLES = ("agent", "router", "rlp", "gateway", "tc", "cache")


def _port(flag: str, default: int, what: str) -> int:
    return typer.Option(
        default, flag, min=0, max=65535, metavar="PORT", help=f"{what} (0 = any free port)."
    )


def _serve(name: str, what: str) -> bool:
    return typer.Option(True, f"--{name}/--no-{name}", help=f"Run the {what}.")


def command(
    routers: int = typer.Option(
        1, "--routers", min=1, max=16, metavar="N", help="How many routers to run."
    ),
    agent_port: int = _port("--agent-port", 3458, "Agent gRPC port (AGENT_PORT)"),
    udp_port: int = _port("--udp-port", 3457, "Agent v1 UDP dropsonde port (AGENT_INCOMING_UDP_PORT)"),
    router_port: int = _port(
        "--router-port", 8082, "First router's gRPC port (ROUTER_PORT); others get free ports"
    ),
    rlp_port: int = _port("--rlp-port", 8083, "Reverse log proxy gRPC port (RLP_PORT)"),
    gateway_port: int = _port("--gateway-port", 8088, "RLP gateway HTTPS port (GATEWAY_ADDR)"),
    tc_port: int = _port(
        "--tc-port", 8081, "Traffic controller websocket port (TRAFFIC_CONTROLLER_OUTGOING_DROPSONDE_PORT)"
    ),
    cache_port: int = _port("--cache-port", 8080, "Log cache HTTP port (ADDR)"),
    cache_grpc_port: int = _port(
        "--cache-grpc-port", 0, "Log cache gRPC API port, upstream's logcache.v1 (LGR_CACHE_GRPC_ADDR)"
    ),
    free_metrics_ports: bool = typer.Option(
        False, "--free-metrics-ports",
        help="Put every metrics endpoint on a port the system picks, not upstream's defaults "
        "(14824-14828, 6060): for several stacks at once (up.json and the dashboard find them).",
    ),
    gateway: bool = _serve("gateway", "rlp gateway (HTTPS, server-sent events)"),
    tc: bool = _serve("tc", "traffic controller (v1 websockets, recent logs)"),
    cache: bool = _serve("cache", "log cache (history for `lgr tail -n`, `lgr meta`)"),
    certs_dir: Path | None = typer.Option(
        None, "--certs-dir", metavar="DIR", file_okay=False, show_default=False,
        help="Certificates to use, made there if missing. Default: certs/ in lgr's state directory.",
    ),
    log_dir: Path | None = typer.Option(
        None, "--log-dir", metavar="DIR", file_okay=False, show_default=False,
        help="Where each component's output goes (NAME.log). Default: logs/ in lgr's state directory.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Once every component is ready, print them as JSON instead of a table."
    ),
) -> None:
    """Run the whole system on loopback until Ctrl-C.

    Starts router(s), agent and reverse log proxy, then the rlp gateway, the log cache and the
    traffic controller, each as a child process, and waits until each answers. Makes a CA and
    certificates on first run, and an admin token for you (admin.token in the state directory,
    its hash in the tokens file LGR_TOKENS_FILE, else tokens.json there), reused while valid;
    the gateway, traffic controller and log cache check tokens against that file. Then prints
    where everything listens. The state directory ($LGR_STATE_DIR, else $XDG_STATE_HOME/lgr, else
    ~/.local/state/lgr) holds the lock that allows one `lgr up` per directory, and up.json,
    which tells clients where the stack is and where the token is.
    Stops everything on Ctrl-C or SIGTERM, or as soon as any component exits.
    """
    from lgr.core.auth.options import default_tokens_file
    from lgr.core.stack import Stack, StackConfig, ensure_certs
    from lgr.core.supervisor import ChildDiedError
    from lgr.core.up_state import UpLock, remove_state, write_state
    from lgr.core.up_token import TOKEN_FILE_NAME, ensure_admin_token

    state = paths.state_dir()
    lock = UpLock(state)
    lock.acquire()
    stop = _StopSignals()
    stack: Stack | None = None
    try:
        certs = certs_dir if certs_dir is not None else paths.certs_dir()
        made = ensure_certs(certs)
        if made:
            note(f"made certificates in {certs}: {', '.join(made)}")
        tokens_file = token_file = None
        if gateway or tc or cache:
            tokens_file = default_tokens_file()
            token = ensure_admin_token(state / TOKEN_FILE_NAME, tokens_file)
            token_file = token.path
            if token.minted:
                note(f"made an admin token for you ({token.name}) in {token.path}")
        config = StackConfig(
            certs_dir=certs, log_dir=log_dir if log_dir is not None else state / "logs", routers=routers,
            router_port=router_port, agent_port=agent_port, udp_port=udp_port, rlp_port=rlp_port,
            gateway=gateway, tc=tc, cache=cache, gateway_port=gateway_port, tc_port=tc_port,
            cache_port=cache_port, cache_grpc_port=cache_grpc_port, tokens_file=tokens_file,
        )
        if free_metrics_ports:
            config = replace(config, **{f"{role}_metrics_port": 0 for role in METRICS_ROLES})
        stack = Stack(config)
        for line in _check_ports(stack):
            note(line)
        stop.install(stack)
        _start(stack, stop)
        up = stack.state(os.getpid(), state, token_file)
        write_state(state, up)
        show(stack, up, as_json)
        dead = _watch(stack, stop)
        if dead is not None:
            raise ChildDiedError(dead.child)
    except ChildDiedError as exc:
        show_last_lines(exc)
        _stop(stack)
        raise
    except KeyboardInterrupt:
        pass
    finally:
        _stop(stack)
        stop.uninstall()
        remove_state(state)
        lock.release()
    err_console.print("[dim]stopped[/]")


_PORT_FLAGS = {"router": "--router-port", "agent": "--agent-port", "agent's v1 UDP": "--udp-port",
               "rlp": "--rlp-port", "gateway": "--gateway-port", "tc": "--tc-port",
               "cache": "--cache-port", "cache gRPC API": "--cache-grpc-port"}


def _check_ports(stack) -> list[str]:
    """Stack.check_ports, with the hint naming the flag that moves a taken port."""
    from lgr.core.probe import PortInUseError

    try:
        return stack.check_ports()
    except PortInUseError as exc:
        flag = _PORT_FLAGS.get(exc.role)
        if flag:
            exc.hint = (f"stop whatever listens there (`ss -lnp 'sport = :{exc.port}'` shows it), "
                        f"or pass {flag} with another port (0 = any free port)")
        raise


class _StopSignals:
    """First SIGINT/SIGTERM asks for a clean stop; a second kills every child and exits 130."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, object] = {}
        self._stack = None

    def install(self, stack) -> None:
        self._stack = stack
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.event.is_set():
            if self._stack is not None:
                self._stack.supervisor.kill()
            err_console.print("[red]second signal: killed every component[/]")
            os._exit(int(ExitCode.INTERRUPTED))
        self.event.set()

    @property
    def requested(self) -> bool:
        return self.event.is_set()


def _start(stack, stop: _StopSignals) -> None:
    phases: dict[str, str] = {}
    with err_console.status("starting…") as status:
        def progress(name: str, phase: str) -> None:
            phases[name] = phase
            shown = "  ".join(
                f"[green]{escape(n)} ✓[/]" if p == "ready" else f"{escape(n)} …"
                for n, p in phases.items()
            )
            status.update(f"starting  {shown}")
            if phase == "ready":
                err_console.print(f"[green]✓[/] {escape(name)} ready", highlight=False)

        stack.start(progress=progress, aborted=lambda: stop.requested)


def _watch(stack, stop: _StopSignals):
    """Wait for a stop signal or a dead component; return the dead one (or None)."""
    while not stop.event.wait(0.2):
        dead = stack.first_dead()
        if dead is not None:
            return dead
    return None


def _stop(stack) -> None:
    if stack is None or not stack.components:
        return
    if all(not c.child.alive() for c in stack.components):
        return
    with err_console.status("stopping…"):
        stack.stop(GRACE_SECONDS)
