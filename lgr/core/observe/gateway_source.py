"""Gateway source: the firehose from an rlp gateway's ``/v2/read`` server-sent events, with a token.

Opens ``GET https://ADDR/v2/read?log&counter&gauge&timer&event`` with ``Authorization: bearer
TOKEN`` (an admin token: the whole firehose needs one), verifying the gateway against the CA.
Each ``data:`` event is an EnvelopeBatch in Go's protojson; heartbeats are skipped; ``closing``
(the gateway's STREAM_TIMEOUT) ends the stream, and the feed runner opens a new one. The
gateway answers every refusal with 404, so a 404 is reported as a token problem.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from google.protobuf import json_format

from lgr.core import probe
from lgr.core._proto.loggregator.v2 import envelope_pb2
from lgr.core.errors import UnavailableError

READ_PATH = "/v2/read?log&counter&gauge&timer&event"
READ_TIMEOUT = 60.0  # the gateway sends a heartbeat after 15 s idle; silence this long is a dead link


class GatewaySource:
    """The whole firehose through the gateway at ``address`` (host:port) with ``token``."""

    def __init__(self, address: str, token: str, ca_file: Path | None) -> None:
        self.address = address
        self.what = f"the rlp gateway at {address}"
        self._token = token
        self._context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    async def open(self, on_event: Callable[[object], None]) -> AsyncIterator[list]:
        import aiohttp  # the dashboard's only HTTP client; heavy, so loaded when used

        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=READ_TIMEOUT)
        headers = {"Authorization": f"bearer {self._token}"} if self._token else {}
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                response = await session.get(f"https://{self.address}{READ_PATH}", headers=headers,
                                             ssl=self._context)
            except aiohttp.ClientError as exc:
                raise UnavailableError(
                    f"cannot reach {self.what}: {exc}",
                    hint="start one with `lgr gateway start`, or set --gateway-addr") from None
            async with response:
                if response.status == 404:
                    raise UnavailableError(
                        f"{self.what} refused the stream (404)",
                        hint="it needs an admin token: `lgr token create --admin`, then --token")
                if response.status != 200:
                    raise UnavailableError(f"{self.what} answered {response.status} {response.reason}")
                yield []
                parser = SseParser()
                async for chunk in response.content.iter_any():
                    for event, data in parser.feed(chunk):
                        if event == "closing":
                            return
                        if event == "message" and data:
                            yield parse_batch(data)

    def reachable(self) -> bool:
        return probe.tls_accepts(self.address, self._context, probe.split_address(self.address)[0])


class SseParser:
    """Splits a server-sent event stream into (event, data) pairs, however the bytes arrive."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        self._buffer += chunk.replace(b"\r\n", b"\n")
        events = []
        while b"\n\n" in self._buffer:
            block, self._buffer = self._buffer.split(b"\n\n", 1)
            event, data = "message", []
            for line in block.decode("utf-8", errors="replace").split("\n"):
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
            events.append((event, "\n".join(data)))
        return events


def parse_batch(data: str) -> list[envelope_pb2.Envelope]:
    """An EnvelopeBatch from the gateway's protojson."""
    batch = envelope_pb2.EnvelopeBatch()
    json_format.ParseDict(json.loads(data), batch, ignore_unknown_fields=True)
    return list(batch.batch)
