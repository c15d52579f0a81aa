"""`lgr tail`: stream envelopes from the reverse log proxy and print them as `cf tail` does.

Lines follow upstream's ``cf tail`` format (lgr.core.render), except that counters, gauges,
timers and events show the envelope's own source_id in brackets: cf tail shows its SOURCE
argument there, and `lgr tail` has none (it may stream many sources, or the whole firehose).
``--json`` prints one object per envelope: Go's protojson, as the rlp gateway writes it.

Colours only on a terminal; piped output is the exact bytes. Reconnects and drops the rlp
reports for this stream appear as dim lines on stderr. Ctrl-C ends with a count on stderr, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import re
import sys
import time
from typing import Annotated, Optional

import typer

from lgr.commands import _client
from lgr.console import console, err_console, escape
from lgr.core.errors import TimeoutExpiredError, UsageError

FILTERS = "Filters"
OUTPUT = "Output"


class Kind(str, enum.Enum):
    """Envelope types, as `--type` takes them."""

    log = "log"
    counter = "counter"
    gauge = "gauge"
    timer = "timer"
    event = "event"


LABEL_STYLES = {"ERR": "red", "COUNTER": "magenta", "GAUGE": "blue", "TIMER": "yellow", "EVENT": "green"}


def command(
    apps: Annotated[Optional[list[str]], typer.Option(
        "--app", "-a", metavar="SOURCE_ID", show_default=False, rich_help_panel=FILTERS,
        help="Only envelopes with this source id (an app guid or a component name); repeatable. "
        "Default: every source (the firehose).",
    )] = None,
    types: Annotated[Optional[list[Kind]], typer.Option(
        "--type", "-t", show_default=False, rich_help_panel=FILTERS,
        help="Only this envelope type; repeatable. Default: every type (or those --counter-name "
        "and --gauge-name imply).",
    )] = None,
    counter_name: Annotated[Optional[str], typer.Option(
        "--counter-name", metavar="NAME", show_default=False, rich_help_panel=FILTERS,
        help="Only counters with this name.",
    )] = None,
    gauge_names: Annotated[Optional[list[str]], typer.Option(
        "--gauge-name", metavar="NAME", show_default=False, rich_help_panel=FILTERS,
        help="Only gauges whose metric names are exactly these; repeatable.",
    )] = None,
    shard_id: Annotated[str, typer.Option(
        "--shard-id", metavar="ID", rich_help_panel=FILTERS,
        help="Join this shard group: consumers with the same id share the stream, each envelope "
        "going to one of them. Default: a stream of your own.",
    )] = "",
    include: Annotated[Optional[str], typer.Option(
        "--include", metavar="REGEX", show_default=False, rich_help_panel=FILTERS,
        help="Only print lines (or JSON objects) this regular expression matches.",
    )] = None,
    exclude: Annotated[Optional[str], typer.Option(
        "--exclude", metavar="REGEX", show_default=False, rich_help_panel=FILTERS,
        help="Skip lines (or JSON objects) this regular expression matches.",
    )] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", rich_help_panel=OUTPUT, help="Print one JSON object per envelope (the rlp gateway's protojson).",
    )] = False,
    new_line: Annotated[Optional[str], typer.Option(
        "--new-line", metavar="CHAR", show_default=False, rich_help_panel=OUTPUT,
        help="Print this character of log payloads as a line break, e.g. '\\u2028' (as cf tail --new-line).",
    )] = None,
    count: Annotated[Optional[int], typer.Option(
        "--count", "-n", min=1, metavar="N", show_default=False, rich_help_panel=OUTPUT,
        help="Exit after printing N envelopes.",
    )] = None,
    timeout: Annotated[Optional[float], typer.Option(
        "--timeout", min=0.0, metavar="SECONDS", show_default=False, rich_help_panel=OUTPUT,
        help="Exit after this long; with --count, exit 10 if fewer than N were printed by then.",
    )] = None,
    rlp_addr: _client.RlpAddr = None,
    ca_file: _client.CaFile = None,
    cert_file: _client.CertFile = None,
    key_file: _client.KeyFile = None,
    connect_timeout: _client.ConnectTimeout = _client.CONNECT_TIMEOUT,
) -> None:
    """Stream envelopes from the reverse log proxy, printed as `cf tail` prints them.

    Without --app, streams the whole firehose. Examples:

      lgr tail --app my-app --type log

      lgr tail --type counter --counter-name requests --json
    """
    keep = _Filter(_regex("--include", include), _regex("--exclude", exclude))
    newline_char = _new_line(new_line)
    _client.quiet_grpc()
    from lgr.core.clients.defaults import RlpClientConfig
    from lgr.core.clients.egress import EgressClient, describe_event, egress_request

    config = _client.load(RlpClientConfig, rlp_addr=rlp_addr, ca_file=ca_file, cert_file=cert_file,
                          key_file=key_file)
    request = egress_request(apps or [], [t.value for t in types or []], counter_name=counter_name or "",
                             gauge_names=gauge_names or [], shard_id=shard_id)
    printer = _Printer(as_json, newline_char, keep, colour=console.is_terminal)
    client = EgressClient.from_config(
        config, request, connect_timeout=connect_timeout,
        on_event=lambda event: _status(describe_event(event, config.rlp_addr)),
    )
    if err_console.is_terminal:
        what = f"source {', '.join(apps)}" if apps else "the firehose"
        _status(f"streaming {what} from the rlp at {config.rlp_addr} (Ctrl-C to stop)")
    started = time.monotonic()
    try:
        timed_out = asyncio.run(_stream(client, printer, count, timeout))
    except KeyboardInterrupt:
        timed_out = False
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`lgr tail | head`): not an error
        return
    _summary(client.received, printer.shown, time.monotonic() - started)
    if timed_out and count is not None:
        raise TimeoutExpiredError(
            f"--timeout {timeout:g}s expired after {printer.shown} of {count} envelopes",
            hint="is anything emitting what --app / --type select?",
        )


async def _stream(client, printer: _Printer, count: int | None, timeout: float | None) -> bool:
    """Print until ``count`` envelopes are shown (False) or ``timeout`` expires (True)."""
    try:
        async with asyncio.timeout(timeout):
            async with contextlib.aclosing(client.batches()) as batches:
                async for batch in batches:
                    if printer.print_batch(batch, count):
                        return False
    except TimeoutError:
        return True
    return False


class _Filter:
    """--include / --exclude over the rendered text."""

    def __init__(self, include: re.Pattern[str] | None, exclude: re.Pattern[str] | None) -> None:
        self.include, self.exclude = include, exclude
        self.active = include is not None or exclude is not None

    def __call__(self, text: str) -> bool:
        if self.include is not None and not self.include.search(text):
            return False
        return self.exclude is None or not self.exclude.search(text)


class _Printer:
    """Renders batches to stdout: exact bytes when piped, rich colours on a terminal."""

    def __init__(self, as_json: bool, new_line: str | None, keep: _Filter, colour: bool) -> None:
        from lgr.core import protojson, render

        self._render, self._protojson = render, protojson
        self.as_json, self.new_line, self.keep, self.colour = as_json, new_line, keep, colour
        self.shown = 0

    def print_batch(self, batch, count: int | None) -> bool:
        """Print what passes the filters; True once ``count`` envelopes have been printed."""
        out: list[bytes] = []
        done = False
        for env in batch:
            if self.as_json:
                text = self._protojson.envelope_json(env)
                if self.keep.active and not self.keep(text):
                    continue
                out.append(text.encode("utf-8") + b"\n")
            else:
                line = self._render.pretty(env, new_line=self.new_line)
                if self.keep.active and not self.keep(line.text()):
                    continue
                if self.colour:
                    console.print(_styled(line), soft_wrap=True, highlight=False)
                else:
                    out.append(line.to_bytes())
            self.shown += 1
            if count is not None and self.shown >= count:
                done = True
                break
        if out:
            sys.stdout.buffer.write(b"".join(out))
            sys.stdout.buffer.flush()
        return done


def _styled(line):
    from rich.text import Text

    if not line.label:  # an envelope without a message: Go prototext
        return Text(line.text(), style="dim")
    text = Text()
    stamp, _, source = line.header.strip().partition(" ")
    text.append("   ")
    text.append(stamp, style="dim")
    text.append(" ")
    text.append(source, style="cyan")
    text.append(" ")
    style = LABEL_STYLES.get(line.label, "")
    text.append(line.label, style=style)
    body = line.body[:-1] if line.body.endswith(b"\n") else line.body
    text.append(" " + body.decode("utf-8", errors="replace"), style="red" if line.label == "ERR" else "")
    return text


def _regex(flag: str, pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"{flag} {pattern!r} is not a valid regular expression: {exc}") from None


def _new_line(value: str | None) -> str | None:
    if value is None:
        return None
    from lgr.core.render import parse_new_line

    try:
        return parse_new_line(value)
    except ValueError as exc:
        raise UsageError(f"--new-line: {exc}") from None


def _status(message: str) -> None:
    err_console.print(f"[dim]{escape(message)}[/]", soft_wrap=True)


def _summary(received: int, shown: int, elapsed: float) -> None:
    filtered = f", {shown} shown" if shown != received else ""
    _status(f"received {received} envelopes{filtered} in {elapsed:.1f}s")


def _silence_stdout() -> None:
    # Python flushes stdout at exit; with the pipe gone that would print a BrokenPipeError.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
