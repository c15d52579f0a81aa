"""Metrics registry: Prometheus text exposition and self-emitted v2 envelopes."""

from __future__ import annotations

import math
import re
import threading

import pytest

from lgr.core.metrics import Counter, Gauge, Registry

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), text)


def parse_exposition(text: str) -> tuple[dict, dict, dict]:
    """A strict little parser for format 0.0.4: (help, type, samples keyed by (name, labels))."""
    helps, types, samples = {}, {}, {}
    assert text.endswith("\n")
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert name not in helps, f"HELP twice for {name}"
            helps[name] = _unescape(doc)
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge") and name in helps and name not in types
            types[name] = kind
        else:
            m = _SAMPLE_RE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, raw_labels, value = m.groups()
            assert name in types, f"sample before its TYPE: {line!r}"
            labels = []
            if raw_labels:
                pos = 0
                for lm in _LABEL_RE.finditer(raw_labels):
                    assert lm.start() == pos, f"bad labels: {raw_labels!r}"
                    labels.append((lm.group(1), _unescape(lm.group(2))))
                    pos = lm.end()
                assert pos == len(raw_labels), f"bad labels: {raw_labels!r}"
            samples[(name, tuple(labels))] = float(value)
    return helps, types, samples


def _registry() -> Registry:
    reg = Registry()
    reg.counter("ingress", "Envelopes received.").inc(7)
    reg.counter("dropped", "Envelopes dropped.", labels={"direction": "ingress"}).inc(2)
    reg.counter("dropped", "Envelopes dropped.", labels={"direction": "egress"}).inc(3)
    reg.gauge("subscriptions", "Active egress subscriptions.", unit="total").set(4)
    return reg


def test_exposition_text_is_exact():
    assert _registry().render_prometheus() == (
        "# HELP dropped Envelopes dropped.\n"
        "# TYPE dropped counter\n"
        'dropped{direction="egress"} 3\n'
        'dropped{direction="ingress"} 2\n'
        "# HELP ingress Envelopes received.\n"
        "# TYPE ingress counter\n"
        "ingress 7\n"
        "# HELP subscriptions Active egress subscriptions.\n"
        "# TYPE subscriptions gauge\n"
        "subscriptions 4\n"
    )


def test_exposition_parses_and_escapes():
    reg = _registry()
    reg.counter("odd", "Help with \\ and\nnewline.", labels={"path": 'a\\b"c\nd', "z": ""}).inc()
    reg.gauge("ratio", "A float.").set(0.25)
    reg.gauge("nothing", "NaN gauge.").set(math.nan)
    reg.gauge("huge", "Infinite gauge.", labels={"sign": "minus"}).set(-math.inf)
    helps, types, samples = parse_exposition(reg.render_prometheus())
    assert helps["odd"] == "Help with \\ and\nnewline."
    assert types == {"dropped": "counter", "ingress": "counter", "subscriptions": "gauge",
                     "odd": "counter", "ratio": "gauge", "nothing": "gauge", "huge": "gauge"}
    assert samples[("odd", (("path", 'a\\b"c\nd'), ("z", "")))] == 1
    assert samples[("dropped", (("direction", "ingress"),))] == 2
    assert samples[("ratio", ())] == 0.25
    assert math.isnan(samples[("nothing", ())])
    assert samples[("huge", (("sign", "minus"),))] == -math.inf


def test_empty_registry_renders_nothing():
    assert Registry().render_prometheus() == ""


def test_each_metric_is_declared_once():
    reg = _registry()
    with pytest.raises(ValueError, match="declared twice"):
        reg.counter("dropped", "Envelopes dropped.", labels={"direction": "ingress"})
    with pytest.raises(ValueError, match="already a counter"):
        reg.gauge("ingress", "Not a gauge.")
    with pytest.raises(ValueError, match="already a counter"):
        reg.counter("dropped", "Envelopes dropped.", labels={"reason": "full"})
    with pytest.raises(ValueError, match="invalid metric name"):
        reg.counter("bad-name", "Dashes are not allowed.")
    with pytest.raises(ValueError, match="invalid label name"):
        reg.counter("x", "Reserved label.", labels={"__name": "v"})
    with pytest.raises(ValueError, match="help"):
        reg.counter("y", "")


def test_get_finds_declared_metrics():
    reg = _registry()
    dropped = reg.get("dropped", direction="egress")
    assert isinstance(dropped, Counter) and dropped.value == 3
    assert isinstance(reg.get("subscriptions"), Gauge)
    with pytest.raises(KeyError):
        reg.get("dropped", direction="sideways")


def test_counter_increments_from_many_threads_are_not_lost():
    counter = Registry().counter("ingress", "Envelopes received.")

    def work() -> None:
        for _ in range(50_000):
            counter.inc()
        counter.inc(5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value == 4 * 50_005


def test_gauge_moves_both_ways():
    gauge = Registry().gauge("subscriptions", "Active subscriptions.", unit="total")
    gauge.inc()
    gauge.inc(2)
    gauge.dec()
    assert gauge.value == 2
    gauge.set(10.5)
    assert gauge.value == 10.5


def test_envelopes_carry_counter_deltas_since_the_last_emit():
    reg = _registry()
    tags = {"deployment": "cf", "direction": "overridden"}
    first = reg.to_envelopes("router", "0", tags, timestamp_ns=123)
    assert [e.WhichOneof("message") for e in first] == ["counter", "counter", "counter", "gauge"]
    by_key = {(e.counter.name or "gauge", e.tags.get("direction")): e for e in first}

    egress = by_key[("dropped", "egress")]
    assert (egress.counter.delta, egress.counter.total) == (3, 3)
    assert (egress.source_id, egress.instance_id, egress.timestamp) == ("router", "0", 123)
    assert dict(egress.tags) == {"deployment": "cf", "direction": "egress"}  # labels win
    assert by_key[("ingress", "overridden")].counter.delta == 7

    gauge = by_key[("gauge", "overridden")].gauge.metrics["subscriptions"]
    assert (gauge.unit, gauge.value) == ("total", 4.0)

    reg.get("ingress").inc(5)
    second = [e for e in reg.to_envelopes("router") if e.counter.name == "ingress"][0]
    assert (second.counter.delta, second.counter.total) == (5, 12)
    third = [e for e in reg.to_envelopes("router") if e.counter.name == "ingress"][0]
    assert (third.counter.delta, third.counter.total) == (0, 12)
    assert third.timestamp > 0 and not third.instance_id
