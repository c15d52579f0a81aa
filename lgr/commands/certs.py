"""`lgr certs`: make a CA and every component's mTLS certificates."""

from __future__ import annotations

import typer

app = typer.Typer(help="Make a CA and each component's mTLS certificates.", no_args_is_help=True)
