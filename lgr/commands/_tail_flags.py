"""`lgr tail`'s flag values: envelope types and classes, regular expressions, and the checks
that reject combinations upstream's `cf tail` rejects (or that --recent cannot honour)."""

from __future__ import annotations

import enum

from lgr.core import regex as regexes
from lgr.core.errors import UsageError


class Kind(str, enum.Enum):
    """Envelope types, as `--envelope-type` takes them (any case)."""

    log = "log"
    counter = "counter"
    gauge = "gauge"
    timer = "timer"
    event = "event"
    any = "any"


class EnvelopeClass(str, enum.Enum):
    """Envelope classes, as `--envelope-class` takes them."""

    logs = "logs"
    metrics = "metrics"
    any = "any"


CLASS_KINDS = {"logs": ["log", "event"], "metrics": ["counter", "gauge", "timer"], "any": []}


def check_recent(sources, follow_, lines, start_time, end_time, types, envelope_class,  # noqa: ANN001, ANN202
                  name_filter, counter_name, gauge_names):
    if not sources:
        raise UsageError("--recent needs a SOURCE_ID: it prints that app's recent logs",
                         hint="e.g. lgr tail my-app --recent")
    given = [flag for flag, value in (
        ("--follow", follow_), ("--lines", lines is not None), ("--start-time", start_time is not None),
        ("--end-time", end_time is not None), ("--envelope-type", types),
        ("--envelope-class", envelope_class is not None), ("--name-filter", name_filter is not None),
        ("--counter-name", counter_name is not None), ("--gauge-name", gauge_names)) if value]
    if given:
        raise UsageError(f"--recent prints the newest 1000 logs as `cf logs --recent` does; it cannot "
                         f"be used with {', '.join(given)}", hint="drop --recent to use them (lgr tail -n)")


def kinds_of(types: list[Kind] | None, envelope_class: EnvelopeClass | None, counter_name: str | None,
           gauge_names: list[str] | None, name_filter: str | None) -> list[str]:
    """The envelope types to ask for ([]: every type)."""
    if types and envelope_class is not None:
        raise UsageError("--envelope-type cannot be used with --envelope-class")
    if envelope_class is not None:
        return CLASS_KINDS[envelope_class.value]
    chosen = [t.value for t in types or []]
    if "any" in chosen:
        return []
    if not chosen:  # the name filters imply their types, as egress_request's
        chosen = (["counter"] if counter_name else []) + (["gauge"] if gauge_names else [])
    if not chosen and name_filter:
        chosen = ["counter", "gauge", "timer"]  # the only types a name filter keeps
    return list(dict.fromkeys(chosen))


def regex(flag: str, pattern: str | None) -> regexes.Regex | None:
    """``pattern`` compiled by RE2 (Go's syntax, linear time); a UsageError naming ``flag``."""
    if pattern is None:
        return None
    try:
        return regexes.compile(pattern)
    except regexes.RegexError as exc:
        raise UsageError(f"{flag} {pattern!r} is not a valid regular expression: {exc}") from None


def new_line_char(value: str | None) -> str | None:
    if value is None:
        return None
    from lgr.core.render import parse_new_line

    try:
        return parse_new_line(value)
    except ValueError as exc:
        raise UsageError(f"--new-line: {exc}") from None
