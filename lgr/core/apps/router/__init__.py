"""Router (upstream's doppler): takes envelopes from agents and fans them out to subscribers.

Import :mod:`.config` freely; :mod:`.app` imports grpc.
"""
