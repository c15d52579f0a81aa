"""`lgr completion`: print a shell completion script."""

from __future__ import annotations

import typer

app = typer.Typer(help="Print a shell completion script (bash, zsh or fish).", no_args_is_help=True)
