"""Headless core of lgr: protocol, conversion, buffering, config, TLS and servers.

Nothing under lgr.core imports typer, rich or textual (tests/core/test_import_hygiene.py).
"""
