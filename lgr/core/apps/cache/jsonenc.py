"""JSON encoding of read answers: ``{"envelopes":{"batch":[...]}}`` as log cache's gateway writes it.

The text of each envelope is lgr.core.protojson's (Go's protojson with EmitUnpopulated and proto
field names, which for envelopes are the same keys). A read may return 1000 envelopes, so they are
parsed as one batch; protojson keeps the text of what repeats from line to line (an app instance's
ids and tags) in its own small tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from lgr.core import envelope, protojson
from lgr.core._proto.loggregator.v2 import envelope_pb2

envelope_json = protojson.envelope_json  # one envelope's text


def read_response(envelopes: Sequence[bytes]) -> bytes:
    """The body of a read answer for these serialized envelopes, with the trailing newline."""
    batch = envelope_pb2.EnvelopeBatch.FromString(envelope.join_batch(envelopes)).batch
    return ('{"envelopes":' + protojson.batch_json(batch) + "}\n").encode("utf-8")
