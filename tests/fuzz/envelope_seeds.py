"""Valid v2 envelopes for the fuzz targets to mutate: every kind, every string field set, tags and
deprecated tags, plus the poison envelopes of tests.poison (invalid UTF-8 in each string field)."""

from __future__ import annotations

from hypothesis import strategies as st

from lgr.core import envelope as E
from tests.poison import POISON_FIELDS, poisoned

TEXT = st.text(max_size=12)


def _full(kind: str, text: str, n: int) -> bytes:
    tags = {"k": text, text: "v", "deployment": "cf"}
    make = {
        "log": lambda: E.log(text, source_id=text, instance_id="1", tags=tags, timestamp=n),
        "counter": lambda: E.counter(text, delta=n, total=n, source_id="app", tags=tags),
        "gauge": lambda: E.gauge({text: (1.5, text), "cpu": (n, "%")}, source_id="app", tags=tags),
        "timer": lambda: E.timer(text, n, n + 1, source_id="app", instance_id=text, tags=tags),
        "event": lambda: E.event(text, text, source_id="app", tags=tags),
    }[kind]()
    make.deprecated_tags["d"].text = text
    make.deprecated_tags["i"].integer = n
    return make.SerializeToString()


VALID = st.builds(_full, st.sampled_from(E.KINDS), TEXT, st.integers(0, 2**40))
POISON = st.sampled_from(sorted(POISON_FIELDS)).map(lambda field: poisoned(POISON_FIELDS[field]()))
ENVELOPES = st.one_of(VALID, VALID, POISON)
