"""Pass-through: forwarding a v2 batch's envelope bytes as they came when tagging would not change them.

Most batches an agent receives are envelopes with a ``source_id``, no ``deprecated_tags`` and no
counter, so none of the rules of :mod:`tagging` but AGENT_TAGS applies. Parsing each envelope,
applying the rules in Python and serializing it again costs ~1.2 µs an envelope, the agent's
largest cost; this spots such a batch with two probes that run entirely in upb (~0.2 µs an
envelope, the technique of lgr.core.apps.rlp.tags) and forwards its envelopes' bytes unchanged:

- a view of the envelope with only ``deprecated_tags`` and ``counter`` (and ``log`` with
  LOGS_DISABLED), other fields discarded: if every envelope is then empty (2 bytes each in the
  batch), no envelope has any of them;
- a view with only ``source_id``: the batch re-split after discarding the rest has no empty
  envelope, so every envelope has a source id.

AGENT_TAGS go on the wire: their ``tags`` map entries are written *before* each envelope's own
fields. A map entry read later wins, so an envelope's own tag of the same name stays, which is
the rule (AGENT_TAGS only where the envelope lacks the key). Anything else takes the full path.
The caller has parsed the batch once already, so malformed input never gets here.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from lgr.core.envelope import split_batch

# Envelope field numbers: source_id 2, deprecated_tags 3, log 4, counter 5, tags 9.
_SOURCE_ID, _DEPRECATED, _LOG, _COUNTER, _TAGS = 2, 3, 4, 5, 9


def _build_views() -> tuple[type, type, type]:
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="lgr/core/apps/agent/passthrough_views.proto", package="lgr.agent", syntax="proto3")
    views = {
        "Source": [("source_id", _SOURCE_ID, F.LABEL_OPTIONAL)],
        "Rules": [("deprecated_tags", _DEPRECATED, F.LABEL_REPEATED),
                  ("counter", _COUNTER, F.LABEL_OPTIONAL)],
        "RulesNoLogs": [("deprecated_tags", _DEPRECATED, F.LABEL_REPEATED),
                        ("counter", _COUNTER, F.LABEL_OPTIONAL), ("log", _LOG, F.LABEL_OPTIONAL)],
    }
    for name, fields in views.items():
        env = proto.message_type.add(name=f"{name}Env")
        if any(number in (_LOG, _COUNTER) for _, number, _ in fields):
            env.oneof_decl.add(name="message")
        for field, number, label in fields:
            # counter and log are members of a oneof, as in Envelope, so that an empty message
            # counts as set (a plain proto3 bytes field would take it for unset).
            oneof = {"oneof_index": 0} if number in (_LOG, _COUNTER) else {}
            env.field.add(name=field, number=number, type=F.TYPE_BYTES, label=label, **oneof)
        batch = proto.message_type.add(name=f"{name}Batch")
        batch.field.add(name="batch", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                        type_name=f".lgr.agent.{name}Env")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return tuple(  # type: ignore[return-value]
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"lgr.agent.{name}Batch"))
        for name in views)


_SourceBatch, _RulesBatch, _RulesNoLogsBatch = _build_views()


class PassThrough:
    """Decides per batch whether its envelopes can go on as bytes; see the module doc."""

    def __init__(self, default_tags: Mapping[str, str], logs_disabled: bool = False) -> None:
        self._rules = _RulesNoLogsBatch if logs_disabled else _RulesBatch
        self._prefix = b"".join(_tag_entry(k, v) for k, v in sorted(default_tags.items()))

    def envelopes(self, batch: bytes) -> list[bytes] | None:
        """The envelopes of ``batch`` to forward (AGENT_TAGS added), or None when some envelope
        needs the full rules. ``batch`` must be a valid EnvelopeBatch."""
        probe = self._rules.FromString(batch)
        count = len(probe.batch)
        probe.DiscardUnknownFields()
        if probe.ByteSize() != 2 * count:
            return None
        sources = _SourceBatch.FromString(batch)
        sources.DiscardUnknownFields()
        if not all(split_batch(sources.SerializeToString())):
            return None
        envs = split_batch(batch)
        prefix = self._prefix
        return [prefix + env for env in envs] if prefix else envs


def _tag_entry(key: str, value: str) -> bytes:
    """``tags`` map entry ``{1: key, 2: value}`` as a field of the envelope."""
    k, v = key.encode(), value.encode()
    entry = b"\x0a" + _varint(len(k)) + k + b"\x12" + _varint(len(v)) + v
    return bytes((_TAGS << 3 | 2,)) + _varint(len(entry)) + entry


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
