"""`lgr emit`: send envelopes to an agent: logs, counters, gauges, timers and events.

Envelopes go over the agent's v2 gRPC ingress (BatchSender, mTLS with the client certificate).
``--count`` and ``--rate`` turn any subcommand into a load generator; ``emit log -`` sends each
line of stdin as a log. A summary (sent, failed, rate) goes to stderr, or to stdout as JSON with
``--json``; the exit code is 5 when anything failed to reach the agent.

Defaults: source_id ``lgr-emit`` (the program that made the envelope, as a component's name would
be), no instance_id, and for logs the ``source_type`` tag ``EMIT``, which `lgr tail` shows in
brackets: ``[EMIT] OUT hi``. Use ``--source-id`` with an app guid and ``--source-type
APP/PROC/WEB`` to look like an app's log.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from lgr.commands import _client
from lgr.console import err_console, escape
from lgr.core.errors import UnavailableError, UsageError

DEFAULT_SOURCE_ID = "lgr-emit"
DEFAULT_SOURCE_TYPE = "EMIT"

app = typer.Typer(
    help="Send envelopes to an agent: a log, counter, gauge, timer or event; --count/--rate for load.",
    no_args_is_help=True,
)

LOAD = "Load"
SourceId = Annotated[str, typer.Option(
    "--source-id", "-s", metavar="ID", help="Envelope source_id (an app guid, or a component name).",
)]
InstanceId = Annotated[str, typer.Option("--instance-id", "-i", metavar="ID", help="Envelope instance_id.")]
Tags = Annotated[Optional[list[str]], typer.Option(
    "--tag", metavar="KEY=VALUE", show_default=False, help="Add a tag (repeatable).",
)]
Count = Annotated[int, typer.Option(
    "--count", "-n", min=1, metavar="N", rich_help_panel=LOAD, help="Send N envelopes.",
)]
Rate = Annotated[Optional[float], typer.Option(
    "--rate", "-r", min=0.001, metavar="PER_SECOND", show_default=False, rich_help_panel=LOAD,
    help="Send at most this many envelopes per second. Default: as fast as the agent takes them.",
)]
AsJson = Annotated[bool, typer.Option(
    "--json", rich_help_panel=LOAD, help="Print the summary as one JSON object on stdout.",
)]


class _Common:
    """The flags every subcommand shares."""

    def __init__(self, **flags: Any) -> None:
        self.__dict__.update(flags)
        self.tags = _parse_tags(flags["tag"] or [])


@app.command()
def log(
    message: Annotated[str, typer.Argument(help="The log line; '-' sends each line of stdin as a log.")],
    stderr: Annotated[bool, typer.Option("--stderr", help="Mark the log as ERR instead of OUT.")] = False,
    source_type: Annotated[str, typer.Option(
        "--source-type", metavar="TYPE", help="The source_type tag `lgr tail` shows, e.g. APP/PROC/WEB.",
    )] = DEFAULT_SOURCE_TYPE,
    source_id: SourceId = DEFAULT_SOURCE_ID, instance_id: InstanceId = "", tag: Tags = None,
    count: Count = 1, rate: Rate = None, as_json: AsJson = False,
    agent_addr: _client.AgentAddr = None, ca_file: _client.CaFile = None,
    cert_file: _client.CertFile = None, key_file: _client.KeyFile = None,
    connect_timeout: _client.ConnectTimeout = _client.CONNECT_TIMEOUT,
) -> None:
    """Send a log line (or each line of stdin with '-')."""
    opts = _Common(**locals())
    tags = {"source_type": source_type, **opts.tags}
    kind = "ERR" if stderr else "OUT"
    if message == "-":
        if count != 1:
            raise UsageError("--count does not apply to `emit log -`: every stdin line is sent once")
        _run(opts, "log", lines=True, make=lambda line: _envelope().log(
            line, type=kind, source_id=source_id, instance_id=instance_id, tags=tags))
        return
    _run(opts, "log", make=lambda i: _envelope().log(
        message, type=kind, source_id=source_id, instance_id=instance_id, tags=tags))


@app.command()
def counter(
    name: Annotated[str, typer.Argument(help="Counter name.")],
    delta: Annotated[Optional[int], typer.Option(
        "--delta", min=0, metavar="N", show_default=False, help="Increment (default 1 unless --total).",
    )] = None,
    total: Annotated[Optional[int], typer.Option(
        "--total", min=0, metavar="N", show_default=False, help="Running total (default 0).",
    )] = None,
    source_id: SourceId = DEFAULT_SOURCE_ID, instance_id: InstanceId = "", tag: Tags = None,
    count: Count = 1, rate: Rate = None, as_json: AsJson = False,
    agent_addr: _client.AgentAddr = None, ca_file: _client.CaFile = None,
    cert_file: _client.CertFile = None, key_file: _client.KeyFile = None,
    connect_timeout: _client.ConnectTimeout = _client.CONNECT_TIMEOUT,
) -> None:
    """Send a counter: a delta and/or a total."""
    opts = _Common(**locals())
    d = delta if delta is not None else (0 if total is not None else 1)
    _run(opts, "counter", make=lambda i: _envelope().counter(
        name, delta=d, total=total or 0, source_id=source_id, instance_id=instance_id, tags=opts.tags))


@app.command()
def gauge(
    metrics: Annotated[list[str], typer.Argument(
        metavar="NAME=VALUE[:UNIT]...", help="One or more metrics, e.g. cpu=12.5:percentage mem=512:MiB.",
    )],
    source_id: SourceId = DEFAULT_SOURCE_ID, instance_id: InstanceId = "", tag: Tags = None,
    count: Count = 1, rate: Rate = None, as_json: AsJson = False,
    agent_addr: _client.AgentAddr = None, ca_file: _client.CaFile = None,
    cert_file: _client.CertFile = None, key_file: _client.KeyFile = None,
    connect_timeout: _client.ConnectTimeout = _client.CONNECT_TIMEOUT,
) -> None:
    """Send a gauge with one or more metrics."""
    opts = _Common(**locals())
    values = _parse_metrics(metrics)
    _run(opts, "gauge", make=lambda i: _envelope().gauge(
        values, source_id=source_id, instance_id=instance_id, tags=opts.tags))


@app.command()
def timer(
    name: Annotated[str, typer.Argument(help="Timer name, e.g. http.")],
    start: Annotated[Optional[int], typer.Option(
        "--start", metavar="NS", show_default=False, help="Start, Unix nanoseconds (default: --stop, else now).",
    )] = None,
    stop: Annotated[Optional[int], typer.Option(
        "--stop", metavar="NS", show_default=False, help="Stop, Unix nanoseconds (default: now).",
    )] = None,
    source_id: SourceId = DEFAULT_SOURCE_ID, instance_id: InstanceId = "", tag: Tags = None,
    count: Count = 1, rate: Rate = None, as_json: AsJson = False,
    agent_addr: _client.AgentAddr = None, ca_file: _client.CaFile = None,
    cert_file: _client.CertFile = None, key_file: _client.KeyFile = None,
    connect_timeout: _client.ConnectTimeout = _client.CONNECT_TIMEOUT,
) -> None:
    """Send a timer from --start to --stop."""
    opts = _Common(**locals())

    def make(i: int):
        now = time.time_ns()
        stop_ns = stop if stop is not None else (now if start is None else max(now, start))
        start_ns = start if start is not None else stop_ns
        return _envelope().timer(name, start_ns, stop_ns, source_id=source_id,
                                 instance_id=instance_id, tags=opts.tags)

    _run(opts, "timer", make=make)


@app.command()
def event(
    title: Annotated[str, typer.Argument(help="Event title.")],
    body: Annotated[str, typer.Argument(help="Event body.")],
    source_id: SourceId = DEFAULT_SOURCE_ID, instance_id: InstanceId = "", tag: Tags = None,
    count: Count = 1, rate: Rate = None, as_json: AsJson = False,
    agent_addr: _client.AgentAddr = None, ca_file: _client.CaFile = None,
    cert_file: _client.CertFile = None, key_file: _client.KeyFile = None,
    connect_timeout: _client.ConnectTimeout = _client.CONNECT_TIMEOUT,
) -> None:
    """Send an event with a title and a body."""
    opts = _Common(**locals())
    _run(opts, "event", make=lambda i: _envelope().event(
        title, body, source_id=source_id, instance_id=instance_id, tags=opts.tags))


# --- parsing ----------------------------------------------------------------------------------

def _parse_tags(items: list[str]) -> dict[str, str]:
    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {item!r}: use KEY=VALUE")
        tags[key] = value
    return tags


def _parse_metrics(items: list[str]) -> dict[str, tuple[float, str]]:
    metrics = {}
    for item in items:
        name, sep, rest = item.partition("=")
        text, _, unit = rest.partition(":")
        try:
            value = float(text)
        except ValueError:
            value = None
        if not sep or not name or value is None:
            raise UsageError(f"gauge metric {item!r}: use NAME=VALUE[:UNIT], e.g. cpu=12.5:percentage")
        metrics[name] = (value, unit)
    return metrics


def _envelope():
    from lgr.core import envelope

    return envelope


# --- sending ----------------------------------------------------------------------------------

def _run(opts: _Common, kind: str, make: Callable[[Any], Any], lines: bool = False) -> None:
    _client.quiet_grpc()
    from lgr.core.clients import load
    from lgr.core.clients.defaults import AgentClientConfig
    from lgr.core.clients.ingress import IngressClient

    config = _client.load(AgentClientConfig, agent_addr=opts.agent_addr, ca_file=opts.ca_file,
                          cert_file=opts.cert_file, key_file=opts.key_file)
    client = IngressClient.from_config(config)
    show_progress = err_console.is_terminal and (lines or opts.count > 1) and not opts.as_json
    items = load.lines(sys.stdin.fileno()) if lines else load.numbers(opts.count)
    run = load.LoadRun()

    async def send() -> None:
        async with client:
            await client.connect(opts.connect_timeout)
            progress = _Progress(client, None if lines else opts.count) if show_progress else None
            try:
                # Bounded: an agent that shut down mid-stream must not keep emit waiting forever
                # (what is left is counted as failed and reported with the agent's reason).
                await load.send_all(client, items, make, opts.rate, run,
                                    flush_timeout=opts.connect_timeout)
            finally:
                if progress:
                    progress.stop()

    try:
        asyncio.run(send())
    except KeyboardInterrupt:
        pass  # report what was sent so far
    _report(client, kind, run.elapsed(), opts.as_json)


class _Progress:
    """A transient rich progress bar on stderr, fed from the client's counters."""

    def __init__(self, client, total: int | None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = [TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[rate]:>10}/s  failed {task.fields[failed]}")]
        self._client = client
        self._bar = Progress(*columns, console=err_console, transient=True)
        self._task = self._bar.add_task("emit", total=total, rate="0", failed=0)
        self._bar.start()
        self._started = time.monotonic()
        self._ticker = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        while True:
            stats = self._client.stats
            rate = stats.sent / max(time.monotonic() - self._started, 1e-9)
            self._bar.update(self._task, completed=stats.sent, rate=f"{rate:,.0f}",
                             failed=stats.failed + stats.dropped)
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        self._ticker.cancel()
        self._bar.stop()


def _report(client, kind: str, elapsed: float, as_json: bool) -> None:
    stats = client.stats
    failed = stats.failed + stats.dropped
    rate = stats.sent / elapsed if elapsed > 0 else 0.0
    if as_json:
        summary = {"agent": client.address, "kind": kind, "sent": stats.sent, "failed": failed,
                   "seconds": round(elapsed, 6), "rate": round(rate, 1), "batches": stats.batches,
                   "reconnects": stats.reconnects, "error": client.last_error}
        sys.stdout.write(json.dumps(summary) + "\n")
        sys.stdout.flush()
    else:
        noun = "envelope" if stats.sent == 1 else "envelopes"
        line = escape(f"sent {stats.sent} {kind} {noun} to the agent at {client.address}")
        if stats.sent > 1:
            line += f" in {elapsed:.2f}s ({rate:,.0f}/s)"
        if failed:
            line += f"; [red]{failed} failed[/]"
        err_console.print(line, soft_wrap=True)
    if failed:
        raise UnavailableError(
            f"{failed} of {stats.sent + failed} envelopes did not reach the agent at {client.address}: "
            f"{client.last_error or 'the stream broke'}",
            hint="is the agent still running? `lgr up` lists its log file",
        )
