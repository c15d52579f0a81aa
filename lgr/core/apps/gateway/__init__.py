"""RLP gateway: upstream's rlp-gateway, serving the reverse log proxy as HTTPS server-sent events."""
