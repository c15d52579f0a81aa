"""`lgr token`: mint, list and revoke the bearer tokens the gateway and traffic controller accept."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from lgr.console import console, escape, note
from lgr.core.auth import options as auth_options
from lgr.core.auth import tokens

app = typer.Typer(
    help="Mint, list and revoke bearer tokens for the gateway and traffic controller.",
    no_args_is_help=True,
)

_FILE_HELP = (
    f"Tokens file. Default: ${auth_options.TOKENS_FILE_ENV}, else tokens.json in lgr's state "
    "directory."
)


def _file_option() -> Path | None:
    return typer.Option(None, "--file", "-f", metavar="FILE", dir_okay=False, show_default=False,
                        help=_FILE_HELP)


def _path(file: Path | None) -> Path:
    return file if file is not None else auth_options.default_tokens_file()


@app.command("create")
def create(
    admin: bool = typer.Option(
        False, "--admin",
        help="Grant the admin scopes (doppler.firehose, logs.admin): the firehose and every source."),
    source_ids: list[str] | None = typer.Option(
        None, "--source-id", "-s", metavar="ID", show_default=False,
        help="A source id the token may read (repeatable)."),
    name: str | None = typer.Option(
        None, "--name", "-n", metavar="NAME", show_default=False,
        help="Name to list and revoke the token by. Default: admin or reader (made unique)."),
    file: Path | None = _file_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the token and its grants as JSON."),
) -> None:
    """Make a random token, store its SHA-256 hash, and print the token once.

    Clients send it as `Authorization: bearer TOKEN` (or the `authorization` cookie on the traffic
    controller's websockets). Servers pick up new tokens without a restart. The file is written
    with mode 0600 and never holds the token itself: keep the printed token safe.
    """
    path = _path(file)
    token_name = name or tokens.unique_name(path, "admin" if admin else "reader")
    token, entry = tokens.mint(path, token_name, admin=admin, source_ids=source_ids or [])
    if as_json:
        doc = {"name": entry.name, "token": token, "admin": entry.admin,
               "source_ids": list(entry.source_ids), "file": str(path)}
        sys.stdout.write(json.dumps(doc) + "\n")
        return
    sys.stdout.write(token + "\n")
    grants = "admin (firehose and every source)" if entry.admin else ", ".join(entry.source_ids)
    note(f"token {entry.name!r} may read: {grants}; stored as a hash in {path}")
    note("this is the only time the token is shown")


@app.command("list")
def list_tokens(
    file: Path | None = _file_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON."),
) -> None:
    """List the tokens in the file: names, grants and creation times (never the tokens)."""
    path = _path(file)
    entries = tokens.read_entries(path)
    if as_json:
        rows = [{k: v for k, v in e.to_json().items() if k != "sha256"} for e in entries]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    if not entries:
        note(f"no tokens in {path}; make one with `lgr token create --admin`")
        return
    table = Table(title=escape(str(path)), title_justify="left")
    table.add_column("name")
    table.add_column("grants")
    table.add_column("created")
    for e in entries:
        grants = "admin" if e.admin else ", ".join(e.source_ids)
        table.add_row(escape(e.name), escape(grants), escape(e.created))
    console.print(table)


@app.command("revoke")
def revoke(
    name: str = typer.Argument(..., metavar="NAME", help="Name of the token to remove."),
    file: Path | None = _file_option(),
) -> None:
    """Remove a token; running servers refuse it from their next request on."""
    path = _path(file)
    if not tokens.revoke(path, name):
        from lgr.core.errors import UsageError

        raise UsageError(f"no token named {name!r} in {path}", hint="see `lgr token list`")
    note(f"revoked {name!r} in {path}")
