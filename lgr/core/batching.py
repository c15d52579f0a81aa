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

Whatever the count, an EnvelopeBatch must fit in one gRPC message (:data:`MAX_MESSAGE_BYTES`,
10 MiB, on every lgr hop): a hundred small logs do, two 6 MB envelopes do not. :func:`fit` splits
a batch into runs that each fit (a batch that fits as a whole, the usual case, costs one sum of
the lengths) and sets apart any envelope too large to send at all, which the hop counts as dropped
instead of breaking its stream on it.
"""

from __future__ import annotations

from lgr.core.diode import Diode
from lgr.core.tls import MAX_MESSAGE_BYTES

BATCH_SIZE = 100
BACKLOG_BATCH_SIZE = 1000
BACKLOG_BATCH_BYTES = 1 << 20
# Bytes an EnvelopeBatch adds to each envelope, at most: field tag 1 and a length varint (4
# bytes up to 256 MiB), rounded up.
FRAMING = 6


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


def fit(envs: list[bytes], limit: int = MAX_MESSAGE_BYTES) -> tuple[list[list[bytes]], list[bytes]]:
    """Split ``envs`` into runs, in order, whose EnvelopeBatch is at most ``limit`` bytes.

    Returns ``(runs, too_large)``: ``too_large`` holds the envelopes that do not fit in a batch of
    their own (the caller counts them as dropped). ``envs`` itself is the only run when it fits.
    """
    if sum(map(len, envs)) + FRAMING * len(envs) <= limit:
        return ([envs] if envs else []), []
    runs: list[list[bytes]] = []
    too_large: list[bytes] = []
    run: list[bytes] = []
    size = 0
    for env in envs:
        n = len(env) + FRAMING
        if n > limit:
            too_large.append(env)
            continue
        if size + n > limit:
            runs.append(run)
            run, size = [], 0
        run.append(env)
        size += n
    if run:
        runs.append(run)
    return runs, too_large
