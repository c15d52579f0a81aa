"""Batching: 100 at a time, grown up to 1000 envelopes or 1 MiB when a backlog is waiting; split
under the 10 MiB message limit."""

from __future__ import annotations

from lgr.core.batching import (
    BACKLOG_BATCH_BYTES,
    BACKLOG_BATCH_SIZE,
    BATCH_SIZE,
    FRAMING,
    fit,
    take_batch,
)
from lgr.core.diode import Diode
from lgr.core.envelope import join_batch
from lgr.core.tls import MAX_MESSAGE_BYTES


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


def test_fit_keeps_a_batch_that_fits_as_it_is():
    envs = [b"x" * 100] * 100
    runs, too_large = fit(envs)
    assert runs == [envs] and runs[0] is envs and too_large == []
    assert fit([]) == ([], [])


def test_fit_splits_under_the_limit_in_order_and_sets_apart_what_cannot_fit():
    limit = 1000
    envs = [bytes([i]) * 300 for i in range(7)]
    envs.insert(3, b"z" * 995)  # with its framing, over the limit on its own
    runs, too_large = fit(envs, limit)
    assert too_large == [b"z" * 995]
    assert [env for run in runs for env in run] == [e for e in envs if e[:1] != b"z"]
    for run in runs:
        assert len(join_batch(run)) <= limit
    assert [len(run) for run in runs] == [3, 3, 1]


def test_fit_counts_the_batch_framing_against_the_real_message_limit():
    # One envelope of exactly the limit cannot go in a batch; one that leaves room for its
    # framing can, and the joined batch is within gRPC's limit.
    assert fit([b"x" * MAX_MESSAGE_BYTES]) == ([], [b"x" * MAX_MESSAGE_BYTES])
    env = b"x" * (MAX_MESSAGE_BYTES - FRAMING)
    runs, too_large = fit([env])
    assert too_large == [] and len(join_batch(runs[0])) <= MAX_MESSAGE_BYTES
