"""Batching: 100 at a time, grown up to 1000 envelopes or 1 MiB when a backlog is waiting."""

from __future__ import annotations

from lgr.core.batching import BACKLOG_BATCH_BYTES, BACKLOG_BATCH_SIZE, BATCH_SIZE, take_batch
from lgr.core.diode import Diode


def test_what_is_there_goes_out_up_to_a_batch():
    diode: Diode[bytes] = Diode(5000)
    assert take_batch(diode) == []
    diode.put_many([b"x"] * 7)
    assert len(take_batch(diode)) == 7
    diode.put_many([b"x"] * BATCH_SIZE)
    assert len(take_batch(diode)) == BATCH_SIZE


def test_a_backlog_grows_the_batch_up_to_its_count_cap():
    diode: Diode[bytes] = Diode(5000)
    diode.put_many([bytes([i % 256]) for i in range(2500)])
    first = take_batch(diode)
    assert len(first) == BACKLOG_BATCH_SIZE
    assert first[:3] == [b"\x00", b"\x01", b"\x02"]  # in order
    assert len(take_batch(diode)) == BACKLOG_BATCH_SIZE
    assert len(take_batch(diode)) == 500


def test_big_envelopes_stop_the_growth_at_the_byte_cap():
    diode: Diode[bytes] = Diode(5000)
    diode.put_many([b"x" * 10_000] * 1000)
    batch = take_batch(diode)
    assert len(batch) == 200  # 100 envelopes = 1,000,000 bytes < 1 MiB, so one more step
    assert sum(map(len, batch)) >= BACKLOG_BATCH_BYTES
