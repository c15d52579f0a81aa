"""Traffic controller: serves the v1 (dropsonde) firehose and app streams over websockets.

Import :mod:`.config` freely; :mod:`.app` imports grpc and aiohttp.
"""
