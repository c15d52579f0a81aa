"""Prometheus scrape: parses a metrics endpoint's text exposition and reads its envelope flow.

:func:`parse` reads text format 0.0.4 (what lgr's and upstream's components serve) into
:class:`Sample` rows with their family's TYPE. :func:`flow_of` picks out the three totals the
dashboard shows for any component: envelopes in, envelopes out, and envelopes dropped per
direction. Names are upstream's: ``ingress`` / ``egress`` (the log cache's are
``log_cache_ingress`` / ``log_cache_egress``), summed over their labels (the agent splits
``ingress`` by ``metric_version``, the traffic controller ``egress`` by ``endpoint``), and
``dropped{direction=...}``. :func:`fetch` GETs a URL with the stack's client certificate.
"""

from __future__ import annotations

import http.client
import math
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

INGRESS_NAMES = ("ingress", "log_cache_ingress")
EGRESS_NAMES = ("egress", "log_cache_egress")
DROPPED_NAME = "dropped"
START_TIME_NAME = "process_start_time_seconds"  # the client libraries' standard gauge

_SAMPLE_RE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+-?\d+)?\s*\Z")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|\Z)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class ScrapeError(ValueError):
    """The endpoint answered, but not with Prometheus text (or not with 200)."""


@dataclass(frozen=True)
class Sample:
    """One exposition line: ``name{labels} value``, with its family's TYPE (``untyped`` if none)."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    kind: str = "untyped"

    @property
    def key(self) -> str:
        """``name{k="v",...}``: the series' identity, as Prometheus writes it."""
        if not self.labels:
            return self.name
        return self.name + "{" + ",".join(f'{k}="{v}"' for k, v in self.labels) + "}"

    def label(self, name: str, default: str = "") -> str:
        return dict(self.labels).get(name, default)


@dataclass(frozen=True)
class Flow:
    """Totals since the component started: envelopes in, out, and dropped by direction."""

    ingress: float | None = None
    egress: float | None = None
    dropped: dict[str, float] = field(default_factory=dict)
    start_time: float | None = None  # Unix seconds, when the component exposes it


def parse(text: str) -> list[Sample]:
    """Every sample in ``text``; raises ScrapeError on a line that is not exposition format."""
    kinds: dict[str, str] = {}
    samples = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                kinds[parts[2]] = parts[3].strip()
            continue
        m = _SAMPLE_RE.match(line)
        if m is None:
            raise ScrapeError(f"line {number} is not a Prometheus sample: {line[:80]!r}")
        name, labels, value = m.group(1), m.group(2), m.group(3)
        samples.append(Sample(name, _labels(labels, number) if labels else (), _value(value, number),
                              kinds.get(name) or kinds.get(_family_of(name), "untyped")))
    return samples


def flow_of(samples: Iterable[Sample]) -> Flow:
    """The ingress / egress / dropped totals of one scrape (None where the component has none)."""
    by_name: dict[str, float] = {}
    dropped: dict[str, float] = {}
    start = None
    for s in samples:
        by_name[s.name] = by_name.get(s.name, 0.0) + s.value
        if s.name == DROPPED_NAME:
            direction = s.label("direction", "unknown")
            dropped[direction] = dropped.get(direction, 0.0) + s.value
        elif s.name == START_TIME_NAME:
            start = s.value
    ingress = next((by_name[n] for n in INGRESS_NAMES if n in by_name), None)
    egress = next((by_name[n] for n in EGRESS_NAMES if n in by_name), None)
    return Flow(ingress, egress, dropped, start)


def fetch(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> str:
    """GET ``url`` (http or https, with ``context``'s client certificate) and return the body.

    Raises OSError (including ssl.SSLError) when it cannot connect, ScrapeError on a non-200.
    """
    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", "/" + path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise ScrapeError(f"GET {url} answered {response.status} {response.reason}")
        return body.decode("utf-8", errors="replace")
    except http.client.HTTPException as exc:
        raise OSError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()


def _family_of(name: str) -> str:
    for suffix in ("_total", "_count", "_sum", "_bucket"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _labels(text: str, number: int) -> tuple[tuple[str, str], ...]:
    body, pos, out = text[1:-1], 0, []
    while pos < len(body):
        m = _LABEL_RE.match(body, pos)
        if m is None:
            raise ScrapeError(f"line {number}: bad labels {text[:80]!r}")
        value = re.sub(r"\\[\\\"n]", lambda e: _UNESCAPE[e.group(0)], m.group(2))
        out.append((m.group(1), value))
        pos = m.end()
    return tuple(sorted(out))


def _value(text: str, number: int) -> float:
    special = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "Inf": math.inf}
    if text in special:
        return special[text]
    try:
        return float(text)
    except ValueError:
        raise ScrapeError(f"line {number}: bad value {text!r}") from None
