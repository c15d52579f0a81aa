"""Batching: how many buffered envelopes go into the next EnvelopeBatch a stream sends.

A stream sends whatever its buffer holds as soon as it can write, so latency stays low at low
rates: up to :data:`BATCH_SIZE` (100, upstream's batch size) envelopes per message. A grpc.aio
stream has one write in flight at a time and each write costs a round trip through gRPC's
completion thread, so a stream that has fallen behind is limited by writes, not bytes. When more
than a batch is waiting, the batch grows in steps of 100 up to :data:`BACKLOG_BATCH_SIZE`
envelopes or :data:`BACKLOG_BATCH_BYTES` bytes, whichever comes first; measured on one router,
this took a subscriber from ~280k to ~390k env/s and from 50% to < 1% loss at the same input
(bench/bench_router.py). Upstream peers take batches of any length; the byte cap keeps grown
batches far below gRPC's 4 MiB default receive limit.
"""

from __future__ import annotations

from lgr.core.diode import Diode

BATCH_SIZE = 100
BACKLOG_BATCH_SIZE = 1000
BACKLOG_BATCH_BYTES = 1 << 20


def take_batch(diode: Diode[bytes]) -> list[bytes]:
    """Take the next batch of serialized envelopes from ``diode`` (possibly none)."""
    items = diode.take(BATCH_SIZE)
    if len(items) < BATCH_SIZE or not len(diode):
        return items
    size = sum(map(len, items))
    while size < BACKLOG_BATCH_BYTES and len(items) < BACKLOG_BATCH_SIZE:
        more = diode.take(BATCH_SIZE)
        if not more:
            break
        items += more
        size += sum(map(len, more))
    return items
