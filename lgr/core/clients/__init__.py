"""Clients of lgr's servers: IngressClient sends envelopes to an agent, EgressClient reads an rlp."""
