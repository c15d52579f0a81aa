"""What `lgr up` prints once the stack is ready: the components table and the commands to try,
or with --json the state file's contents on one line; and a dead component's last log lines."""

from __future__ import annotations

import json
import sys

from lgr.console import console, err_console, escape
from lgr.core.up_state import UpState

EMIT_SOURCE_ID = "lgr-emit"  # `lgr emit`'s default source id (lgr.commands.emit.DEFAULT_SOURCE_ID)


def show(stack, up: UpState, as_json: bool) -> None:
    """Print ``up`` (the state written to up.json) for a person, or as JSON."""
    if as_json:
        sys.stdout.write(json.dumps(up.to_json()) + "\n")
        sys.stdout.flush()
        return
    from rich.table import Table

    table = Table(title="lgr is up", title_justify="left")
    for col in ("component", "address", "pid", "metrics"):
        table.add_column(col, no_wrap=True)
    for c in up.components:
        address = c.url or c.address
        address += f"\nudp {c.udp_address}" if c.udp_address else ""
        address += f"\ngrpc {c.grpc_address}" if c.grpc_address else ""
        table.add_row(escape(c.name), escape(address), str(c.pid), escape(c.metrics_url))
    console.print(table)
    console.print(f"[dim]logs: {escape(str(stack.config.log_dir))}[/]", soft_wrap=True)
    if up.token_file:
        console.print(f"[dim]admin token: {escape(up.token_file)} (the clients use it; "
                      f"tokens file: {escape(up.tokens_file)})[/]", soft_wrap=True)
    # The clients read up.json, so these work as they are, whatever ports the stack got.
    console.print("Try, in another terminal:")
    for command, what in try_commands(up):
        console.print(f"  [bold]{escape(command):<24}[/] [dim]{escape(what)}[/]", highlight=False)
    console.print("[dim]Ctrl-C stops everything.[/]")
    sys.stdout.flush()


def try_commands(up: UpState) -> list[tuple[str, str]]:
    """(command, what it does) for each command worth trying with this stack."""
    kinds = {c.kind for c in up.components}
    out = [("lgr emit log hi", "send a log line"),
           ("lgr tail", "stream everything from the rlp (gRPC, mTLS)")]
    if "gateway" in kinds:
        out.append(("lgr tail --via gateway", "the same through the rlp gateway (HTTPS, your token)"))
    if "cache" in kinds:
        out.append((f"lgr tail -n 5 {EMIT_SOURCE_ID}",
                    "a source's last 5, from the log cache (-f: then follow)"))
        out.append(("lgr meta", "the sources the log cache holds"))
    out.append(("lgr dashboard", "watch every component and the firehose"))
    return out


def show_last_lines(exc) -> None:
    """A dead component's last log lines, on stderr."""
    if exc.lines:
        err_console.print(f"[dim]last lines of {escape(exc.child.name)}'s log:[/]")
        for line in exc.lines:
            err_console.print(f"  [dim]{escape(line)}[/]", soft_wrap=True)
