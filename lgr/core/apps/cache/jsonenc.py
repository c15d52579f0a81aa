"""JSON encoding of read answers: ``{"envelopes":{"batch":[...]}}`` as log cache's gateway writes it.

The text of each envelope is lgr.core.protojson's (Go's protojson with EmitUnpopulated and proto
field names, which for envelopes are the same keys). A read may return 1000 envelopes, so this
parses them as one batch and takes a fast path for logs, the common case: the tags of an app
instance repeat from line to line, so their JSON is kept in a small table keyed by the tag items.
Every other envelope goes through lgr.core.protojson unchanged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from lgr.core import envelope, protojson
from lgr.core._proto.loggregator.v2 import envelope_pb2

_string = json.JSONEncoder(ensure_ascii=False).encode  # lgr.core.protojson's string escapes
_MEMO_LIMIT = 4096
_TYPES = {0: "OUT", 1: "ERR"}


class _Memo:
    """Rendered JSON fragments for repeating values, forgotten wholesale when it grows too big."""

    def __init__(self) -> None:
        self.tags: dict[tuple[tuple[str, str], ...], str] = {}
        self.ids: dict[tuple[str, str], str] = {}

    def tags_json(self, items: tuple[tuple[str, str], ...]) -> str:
        text = self.tags.get(items)
        if text is None:
            if len(self.tags) >= _MEMO_LIMIT:
                self.tags.clear()
            body = ",".join(f"{_string(k)}:{_string(v)}" for k, v in sorted(items))
            text = self.tags[items] = '"deprecated_tags":{},"tags":{' + body + "}"
        return text

    def ids_json(self, source_id: str, instance_id: str) -> str:
        key = (source_id, instance_id)
        text = self.ids.get(key)
        if text is None:
            if len(self.ids) >= _MEMO_LIMIT:
                self.ids.clear()
            text = self.ids[key] = (f'"source_id":{_string(source_id)},'
                                    f'"instance_id":{_string(instance_id)},')
        return text


_memo = _Memo()


def envelope_json(env: envelope_pb2.Envelope) -> str:
    """One envelope's JSON, exactly as :func:`lgr.core.protojson.envelope_json` writes it."""
    if env.WhichOneof("message") != "log" or env.deprecated_tags:
        return protojson.envelope_json(env)
    log = env.log
    kind = _TYPES.get(log.type)
    if kind is None:
        return protojson.envelope_json(env)
    payload = base64.b64encode(log.payload).decode("ascii")
    return (f'{{"timestamp":"{env.timestamp}",{_memo.ids_json(env.source_id, env.instance_id)}'
            f'{_memo.tags_json(tuple(env.tags.items()))},'
            f'"log":{{"payload":"{payload}","type":"{kind}"}}}}')


def read_response(envelopes: Sequence[bytes]) -> bytes:
    """The body of a read answer for these serialized envelopes, with the trailing newline."""
    batch = envelope_pb2.EnvelopeBatch.FromString(envelope.join_batch(envelopes)).batch
    parts = ",".join([envelope_json(env) for env in batch])
    return ('{"envelopes":{"batch":[' + parts + "]}}\n").encode("utf-8")
