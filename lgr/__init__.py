"""lgr: a Python re-implementation of Cloud Foundry's Loggregator."""

__version__ = "0.1.0"
