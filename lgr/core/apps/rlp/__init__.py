"""Reverse log proxy: merges every router's stream for each gRPC consumer.

Import :mod:`.config` freely; :mod:`.app` imports grpc.
"""
