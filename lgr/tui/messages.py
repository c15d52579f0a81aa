"""Messages the dashboard's widgets post to the app, named for what happened (past tense)."""

from __future__ import annotations

from textual.message import Message

from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.observe.envelope_filter import EnvelopeFilter
from lgr.core.observe.series import SeriesKey


class FilterChanged(Message):
    """The stream filter's inputs now describe ``filter`` (already validated)."""

    def __init__(self, filter: EnvelopeFilter) -> None:
        super().__init__()
        self.filter = filter


class SourcePicked(Message):
    """The user picked ``source_id`` (in the Sources view) to filter the stream by."""

    def __init__(self, source_id: str) -> None:
        super().__init__()
        self.source_id = source_id


class EnvelopeSelected(Message):
    """The user selected an envelope in the stream, to see all its fields."""

    def __init__(self, envelope: envelope_pb2.Envelope) -> None:
        super().__init__()
        self.envelope = envelope


class MetricPicked(Message):
    """The user picked the series ``key`` to plot."""

    def __init__(self, key: SeriesKey) -> None:
        super().__init__()
        self.key = key
