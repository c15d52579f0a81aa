"""The agent (upstream's loggregator-agent): v2 gRPC and v1 UDP ingress, forwarding to routers."""
