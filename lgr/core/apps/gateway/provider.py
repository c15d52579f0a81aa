"""Logs provider: the gateway's mTLS channel to the reverse log proxy and its batch streams.

One channel serves every HTTP stream (upstream's LogClient dials once too); each /v2/read opens
its own BatchedReceiver call. Calls wait for the channel to be ready instead of failing at once,
so a client that connects while the RLP restarts gets heartbeats, then data. Each message is
parsed by lgr.core.salvage: an envelope that does not parse is skipped (``malformed`` of the
result) and the rest of its batch goes on.
"""

from __future__ import annotations

import grpc

from lgr.core import tls
from lgr.core._proto.loggregator.v2 import egress_pb2
from lgr.core.salvage import parse_batch

BATCHED_RECEIVER = "/loggregator.v2.Egress/BatchedReceiver"


class LogsProvider:
    """Opens BatchedReceiver streams to the RLP at ``address``; make it inside the event loop."""

    def __init__(self, address: str, credentials: grpc.ChannelCredentials, server_name: str) -> None:
        self.address = address
        self._channel = grpc.aio.secure_channel(address, credentials,
                                                options=tls.channel_options(server_name))
        self._receive = self._channel.unary_stream(
            BATCHED_RECEIVER,
            request_serializer=egress_pb2.EgressBatchRequest.SerializeToString,
            response_deserializer=parse_batch,  # never raises: a Salvaged batch
        )

    def stream(self, request: egress_pb2.EgressBatchRequest) -> grpc.aio.UnaryStreamCall:
        """A new stream of :class:`~lgr.core.salvage.Salvaged` batches for ``request``."""
        return self._receive(request, wait_for_ready=True)

    async def close(self) -> None:
        """Close the channel, ending every stream on it."""
        await self._channel.close()
