"""`lgr tail`: recent envelopes from the log cache, then (with -f) the live stream, as `cf tail`.

With a SOURCE (or --app), `lgr tail` prints the newest --lines (10) envelopes the log cache holds
and exits; with --follow it then streams new ones from the reverse log proxy, without a gap or a
repeat (lgr.core.clients.follow). Without a source it prints the newest --lines across every
source the cache holds (the 100 written to most recently at most), then streams the whole
firehose from the rlp, again without a repeat, until Ctrl-C, --count or --timeout; an unreachable
cache is a dim note and the live stream goes on. ``--via gateway`` reads the live stream from the
rlp gateway over HTTPS with a bearer token instead (lgr.commands._tail_live).
``--recent`` prints the source's newest 1000 logs from the cache and exits, as `cf logs --recent`.

Lines follow upstream's ``cf tail`` format (lgr.core.render), except that counters, gauges,
timers and events show the envelope's own source_id in brackets (cf tail shows its SOURCE
argument, which is the same for one source id). ``--json`` prints one object per envelope: Go's
protojson, as the rlp gateway writes it.

Colours only on a terminal; piped output is the exact bytes. Reconnects and drops the rlp
reports for this stream appear as dim lines on stderr. Ctrl-C ends with a count on stderr, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from lgr.commands import _client
from lgr.commands._tail_history import cache_config, followed, history_request, print_history, recent_request
from lgr.commands._tail_flags import EnvelopeClass, Kind, check_recent, kinds_of, new_line_char, regex
from lgr.commands._tail_live import Filters, Flags, Via, open_live
from lgr.commands._tail_output import Printer, TextFilter
from lgr.console import err_console, escape, is_tty, styled
from lgr.core.errors import TimeoutExpiredError, UsageError

if TYPE_CHECKING:
    from lgr.core.clients.local_filter import LocalFilter

FILTERS = "Filters"
HISTORY = "History"
OUTPUT = "Output"
MAX_LINES = 1000


def command(
    source: Annotated[Optional[str], typer.Argument(
        metavar="SOURCE_ID", show_default=False,
        help="Source id to tail (an app guid or a component name). Default: every source: the "
        "newest --lines across them from the log cache, then the whole firehose live.",
    )] = None,
    apps: Annotated[Optional[list[str]], typer.Option(
        "--app", "-a", metavar="SOURCE_ID", show_default=False, rich_help_panel=FILTERS,
        help="Another source id to tail; repeatable.",
    )] = None,
    types: Annotated[Optional[list[Kind]], typer.Option(
        "--envelope-type", "-t", case_sensitive=False, show_default=False, rich_help_panel=FILTERS,
        help="Only this envelope type; repeatable. Default: every type (or those --counter-name, "
        "--gauge-name and --name-filter imply).",
    )] = None,
    envelope_class: Annotated[Optional[EnvelopeClass], typer.Option(
        "--envelope-class", "-c", case_sensitive=False, show_default=False, rich_help_panel=FILTERS,
        help="Only logs (and events), or only metrics (counters, gauges, timers).",
    )] = None,
    name_filter: Annotated[Optional[str], typer.Option(
        "--name-filter", metavar="REGEX", show_default=False, rich_help_panel=FILTERS,
        help="Only counters and timers whose name, and gauges with a metric whose name, matches; "
        "gauges keep only the matching metrics (RE2 syntax, as the log cache's).",
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
        help="Join this shard group for the live stream: consumers with the same id share it, "
        "each envelope going to one of them. Default: a stream of your own.",
    )] = "",
    include: Annotated[Optional[str], typer.Option(
        "--include", metavar="REGEX", show_default=False, rich_help_panel=FILTERS,
        help="Only print lines (or JSON objects) this regular expression (RE2, as Go's) matches.",
    )] = None,
    exclude: Annotated[Optional[str], typer.Option(
        "--exclude", metavar="REGEX", show_default=False, rich_help_panel=FILTERS,
        help="Skip lines (or JSON objects) this regular expression (RE2, as Go's) matches.",
    )] = None,
    lines: Annotated[Optional[int], typer.Option(
        "--lines", "-n", min=0, max=MAX_LINES, metavar="N", show_default=False, rich_help_panel=HISTORY,
        help="How many recent envelopes to print from the log cache (0 to 1000; 0: none, only "
        "the live stream). Default: 10.",
    )] = None,
    follow_: Annotated[bool, typer.Option(
        "--follow", "-f", rich_help_panel=HISTORY,
        help="After the history, keep printing new envelopes from the reverse log proxy "
        "(always so without a SOURCE_ID).",
    )] = False,
    start_time: Annotated[Optional[int], typer.Option(
        "--start-time", metavar="NS", show_default=False, rich_help_panel=HISTORY,
        help="History from this time on (Unix nanoseconds).",
    )] = None,
    end_time: Annotated[Optional[int], typer.Option(
        "--end-time", metavar="NS", show_default=False, rich_help_panel=HISTORY,
        help="History before this time (Unix nanoseconds). Default: now.",
    )] = None,
    recent: Annotated[bool, typer.Option(
        "--recent", rich_help_panel=HISTORY,
        help="Print the source's newest 1000 logs from the log cache and exit (as `cf logs --recent`).",
    )] = False,
    no_headers: Annotated[bool, typer.Option(
        "--no-headers", rich_help_panel=OUTPUT,
        help="Do not print the `Retrieving logs for source ... as USER...` header line (printed, "
        "as cf tail does, only in the normal format on a terminal).",
    )] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", rich_help_panel=OUTPUT, help="Print one JSON object per envelope (the rlp gateway's protojson).",
    )] = False,
    new_line: Annotated[Optional[str], typer.Option(
        "--new-line", metavar="CHAR", show_default=False, rich_help_panel=OUTPUT,
        help="Print this character of log payloads as a line break, e.g. '\\u2028' (as cf tail --new-line).",
    )] = None,
    count: Annotated[Optional[int], typer.Option(
        "--count", min=1, metavar="N", show_default=False, rich_help_panel=OUTPUT,
        help="Exit after printing N envelopes.",
    )] = None,
    timeout: Annotated[Optional[float], typer.Option(
        "--timeout", min=0.0, metavar="SECONDS", show_default=False, rich_help_panel=OUTPUT,
        help="Exit after this long; with --count, exit 10 if fewer than N were printed by then.",
    )] = None,
    via: Annotated[Via, typer.Option(
        "--via", case_sensitive=False, rich_help_panel=_client.PANEL,
        help="Read the live stream from the reverse log proxy (gRPC with the client certificate) "
        "or the rlp gateway (HTTPS with the bearer token).",
    )] = Via.rlp,
    cache_addr: _client.CacheAddr = None,
    token: _client.Token = None,
    rlp_addr: _client.RlpAddr = None,
    gateway_addr: _client.GatewayAddr = None,
    ca_file: _client.CaFile = None,
    cert_file: _client.CertFile = None,
    key_file: _client.KeyFile = None,
    connect_timeout: _client.ConnectTimeout = _client.CONNECT_TIMEOUT,
) -> None:
    """Print recent envelopes from the log cache, then with -f follow them live (as `cf tail`).

    With a SOURCE_ID, prints that source's newest envelopes and exits (-f: then follows it live).
    Without one, prints the newest envelopes across every source the log cache holds, then streams
    the whole firehose from the reverse log proxy (-n 0: the live stream only). Examples:

      lgr tail

      lgr tail my-app -n 50

      lgr tail my-app -f --envelope-class logs

      lgr tail my-app --recent

      lgr tail router -t counter --name-filter '^requests' --json

      lgr tail -t counter --counter-name requests --via gateway
    """
    from lgr.core.clients.local_filter import LocalFilter

    sources = list(dict.fromkeys(([source] if source else []) + (apps or [])))
    if recent:
        check_recent(sources, follow_, lines, start_time, end_time, types, envelope_class,
                      name_filter, counter_name, gauge_names)
    kinds = kinds_of(types, envelope_class, counter_name, gauge_names, name_filter)
    keep = TextFilter(regex("--include", include), regex("--exclude", exclude))
    local = LocalFilter(regex("--name-filter", name_filter), counter_name, gauge_names)
    newline_char = new_line_char(new_line)
    if start_time is not None and end_time is not None and start_time > end_time:
        raise UsageError("Invalid date/time range. Ensure your start time is prior or equal the end time.")
    history = (recent_request(sources) if recent else
               history_request(sources or None, lines, start_time, end_time, kinds, name_filter,
                               counter_name))
    printer = Printer(as_json, newline_char, keep, colour=styled())
    with_history = bool(sources) or history.lines > 0  # the firehose's -n 0: live only, as before
    started = time.monotonic()
    live = None
    try:
        if not no_headers and not as_json and is_tty():
            _header(sources)
        if sources and not follow_:
            config = cache_config(cache_addr, token, ca_file)
            asyncio.run(print_history(config, history, printer, local, count, timeout, _status))
            return
        live = open_live(via, Filters(sources, kinds, counter_name or "", gauge_names or [], shard_id),
                         Flags(rlp_addr, gateway_addr, token, ca_file, cert_file, key_file,
                               connect_timeout), _status)
        if err_console.is_terminal:
            what = f"source {', '.join(sources)}" if sources else "the firehose"
            _status(f"streaming {what} from {live.where} (Ctrl-C to stop)")
        batches = live.batches()
        if with_history:
            batches = followed(cache_config(cache_addr, token, ca_file), batches, history, printer,
                               _status, live.where)
        timed_out = asyncio.run(_stream(batches, printer, local, count, timeout))
    except KeyboardInterrupt:
        timed_out = False
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`lgr tail | head`): not an error
        return
    except TimeoutError:
        timed_out = True  # only the history read of a tail without -f gets here
    if live is not None:
        _summary(live.received, printer.shown - printer.history, time.monotonic() - started,
                 printer.history if with_history else None)
    if timed_out and count is not None:
        raise TimeoutExpiredError(
            f"--timeout {timeout:g}s expired after {printer.shown} of {count} envelopes",
            hint="is anything emitting what the source and type filters select?",
        )


async def _stream(batches, printer: Printer, local: LocalFilter, count: int | None,  # noqa: ANN001
                  timeout: float | None) -> bool:
    """Print until ``count`` envelopes are shown (False) or ``timeout`` expires (True)."""
    try:
        async with asyncio.timeout(timeout):
            async with contextlib.aclosing(batches) as stream:
                async for batch in stream:
                    if printer.print_batch(local(batch), count):
                        return False
    except TimeoutError:
        return True
    return False


def _header(sources: list[str]) -> None:
    """cf tail's header and the blank line after it (its sourceHeader: lgr has no orgs or spaces;
    the user is the local one, where cf tail names the logged-in CF user)."""
    import getpass

    what = f"source {', '.join(sources)}" if sources else "every source"
    sys.stdout.write(f"Retrieving logs for {what} as {getpass.getuser()}...\n\n")
    sys.stdout.flush()


def _status(message: str) -> None:
    err_console.print(f"[dim]{escape(message)}[/]", soft_wrap=True)


def _summary(received: int, shown: int, elapsed: float, history: int | None = None) -> None:
    filtered = f", {shown} shown" if shown != received else ""
    before = f"{history} from the log cache, then " if history is not None else ""
    _status(f"{before}received {received} envelopes{filtered} in {elapsed:.1f}s")


def _silence_stdout() -> None:
    # Python flushes stdout at exit; with the pipe gone that would print a BrokenPipeError.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
