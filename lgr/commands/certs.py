"""`lgr certs`: make a CA and every component's mTLS certificates."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from lgr.console import console, escape, note
from lgr.core import paths

app = typer.Typer(help="Make a CA and each component's mTLS certificates.", no_args_is_help=True)


@app.command("gen")
def gen(
    directory: Path | None = typer.Option(
        None,
        "--dir",
        metavar="DIR",
        file_okay=False,
        show_default=False,
        help="Directory to write ca.crt, ca.key, NAME.crt and NAME.key into. "
        f"Default: certs/ in lgr's state directory (${paths.STATE_DIR_ENV}, "
        "else $XDG_STATE_HOME/lgr, else ~/.local/state/lgr).",
    ),
    days: int = typer.Option(
        365, "--days", min=1, max=36500, metavar="N", help="Days the certificates stay valid."
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite certificate and key files that already exist."
    ),
    names: list[str] | None = typer.Option(
        None,
        "--name",
        metavar="NAME",
        show_default=False,
        help="Also make a certificate for NAME (repeatable). If DIR already holds a CA, make only "
        "the named certificates, signed by that CA.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON, not a table."),
) -> None:
    """Make a CA and a key and certificate for each component.

    Components: agent, router, rlp, gateway, tc, cache and client, plus each --name.
    Per role, as upstream's deployments: a server's certificate names only that server
    (agent metron, router doppler, rlp reverselogproxy, cache log-cache; gateway and tc their
    own name) plus its own name, localhost, 127.0.0.1 and ::1, with usage server (and client
    where the component also dials a peer; the router only serves). client and each --name are
    client-only certificates with no server name. Upstream components accept them too.
    Keys are written with mode 0600; existing files are kept unless --force.
    """
    # Imported here: cryptography and grpc are slow to import, and `lgr --help` should not pay.
    from lgr.core import certs

    directory = directory if directory is not None else paths.certs_dir()
    reused_ca = bool(names) and certs.has_ca(directory)
    if reused_ca:
        records = certs.add_client_certs(directory, names or [], days=days, force=force)
    else:
        records = certs.generate_pki(directory, extra_names=names or [], days=days, force=force)

    if as_json:
        sys.stdout.write(json.dumps([_as_json(r) for r in records], indent=2) + "\n")
    else:
        console.print(_table(records, directory))
    if reused_ca:
        note(f"signed by the existing CA {certs.cert_path(directory, certs.CA_NAME)}")


def _as_json(record) -> dict[str, object]:
    return {
        "name": record.name,
        "cert": str(record.cert),
        "key": str(record.key),
        "not_after": record.not_after.isoformat(),
        "sans": list(record.sans),
        "usage": list(record.usage),
        "is_ca": record.is_ca,
    }


def _table(records, directory: Path) -> Table:
    table = Table(title=f"wrote to {escape(str(directory))}", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("files")
    table.add_column("usage")
    table.add_column("SANs")
    table.add_column("expires", no_wrap=True)
    for r in records:
        sans = "(certificate authority)" if r.is_ca else "\n".join(r.sans) or "(none: client only)"
        files = f"{escape(r.cert.name)}\n{escape(r.key.name)}"
        table.add_row(escape(r.name), files, "\n".join(r.usage), escape(sans),
                      f"{r.not_after:%Y-%m-%d %H:%M} UTC")
    return table
