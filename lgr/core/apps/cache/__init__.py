"""Log cache: recent envelopes per source from the firehose, read over upstream's HTTP API and PromQL.

Import :mod:`.config` freely; :mod:`.app` imports aiohttp and (for the nozzle) grpc.
"""
